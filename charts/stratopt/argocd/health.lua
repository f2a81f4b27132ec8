-- Argo CD health of a stratopt resource (OptimizationRun, FeatureAnalysis, ForecastRun).
-- Progressing while Pending or Running (or waiting for its FeatureAnalysis), Suspended
-- while spec.suspend holds, Healthy on Succeeded, Degraded on Failed or Stalled.
local hs = {}

local function condition(kind)
  if obj.status == nil or obj.status.conditions == nil then
    return nil
  end
  for _, c in ipairs(obj.status.conditions) do
    if c.type == kind and c.status == "True" then
      return c
    end
  end
  return nil
end

local function message_of(c, fallback)
  if c ~= nil and c.message ~= nil and c.message ~= "" then
    return c.message
  end
  return fallback
end

if obj.status == nil or obj.status.phase == nil then
  hs.status = "Progressing"
  hs.message = "Waiting for the operator to pick up the run"
  return hs
end

local generation = obj.metadata.generation
local observed = obj.status.observedGeneration
if generation ~= nil and (observed == nil or observed < generation) then
  hs.status = "Progressing"
  hs.message = "Waiting for the operator to act on generation " .. generation
  return hs
end

local phase = obj.status.phase
if phase == "Succeeded" then
  hs.status = "Healthy"
  hs.message = message_of(condition("Succeeded"), "Succeeded")
elseif phase == "Failed" then
  hs.status = "Degraded"
  hs.message = message_of(condition("Failed"), "Failed")
elseif phase == "Suspended" then
  hs.status = "Suspended"
  hs.message = message_of(condition("Suspended"), "Suspended")
else
  local stalled = condition("Stalled")
  if stalled ~= nil then
    hs.status = "Degraded"
    hs.message = message_of(stalled, "Stalled")
  else
    hs.status = "Progressing"
    hs.message = message_of(condition("Reconciling"), phase)
  end
end
return hs
