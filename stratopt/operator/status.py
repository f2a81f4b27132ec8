"""Status projection: Kubernetes-style conditions and the phase derived from them.

Pure functions over plain dicts (the status as stored). Setting a condition is a no-op
when its status and reason are unchanged, and keeps ``lastTransitionTime`` unless the
status flips.
"""

from __future__ import annotations

from typing import Any

TERMINAL_PHASES = ("Succeeded", "Failed")


def set_condition(
    conditions: list[dict[str, Any]], kind: str, status: str, reason: str, message: str, now: str
) -> list[dict[str, Any]]:
    """A new list with condition ``kind`` set; unchanged entries are kept as they are."""
    updated = []
    found = False
    for condition in conditions:
        if condition.get("type") != kind:
            updated.append(condition)
            continue
        found = True
        if condition.get("status") == status and condition.get("reason") == reason:
            updated.append({**condition, "message": message})
            continue
        transition = (
            condition.get("lastTransitionTime", now) if condition.get("status") == status else now
        )
        updated.append(
            {
                "type": kind,
                "status": status,
                "reason": reason,
                "message": message,
                "lastTransitionTime": transition,
            }
        )
    if not found:
        updated.append(
            {
                "type": kind,
                "status": status,
                "reason": reason,
                "message": message,
                "lastTransitionTime": now,
            }
        )
    return updated


def phase_of(conditions: list[dict[str, Any]]) -> str:
    """The phase the conditions imply."""
    state = {c["type"]: c["status"] for c in conditions}
    if state.get("Failed") == "True":
        return "Failed"
    if state.get("Succeeded") == "True":
        return "Succeeded"
    if state.get("Suspended") == "True":
        return "Suspended"
    if state.get("Stalled") == "True":
        return "Pending"
    if state.get("Reconciling") == "True":
        return "Running"
    return "Pending"


def _with(
    status: dict[str, Any], conditions: list[dict[str, Any]], generation: int, **fields: Any
) -> dict[str, Any]:
    return {
        **fields,
        "conditions": conditions,
        "phase": phase_of(conditions),
        "observedGeneration": generation,
    }


def running(status: dict[str, Any], generation: int, message: str, now: str) -> dict[str, Any]:
    """The patch for a run whose Job is under way."""
    conditions = status.get("conditions", [])
    if any(c.get("type") == "Suspended" for c in conditions):
        conditions = set_condition(conditions, "Suspended", "False", "Resumed", "", now)
    if any(c.get("type") == "Stalled" for c in conditions):
        conditions = set_condition(conditions, "Stalled", "False", "Resolved", "", now)
    conditions = set_condition(conditions, "Reconciling", "True", "JobRunning", message, now)
    conditions = set_condition(conditions, "Succeeded", "False", "InProgress", message, now)
    conditions = set_condition(conditions, "Finished", "False", "InProgress", message, now)
    return _with(status, conditions, generation, startTime=status.get("startTime") or now)


def stalled(
    status: dict[str, Any], generation: int, reason: str, message: str, now: str
) -> dict[str, Any]:
    """The patch for a run whose Job cannot start, e.g. no node can take its pods; it
    goes on by itself once the cause is gone (a node joins, a GPU frees up)."""
    conditions = status.get("conditions", [])
    if any(c.get("type") == "Suspended" for c in conditions):
        conditions = set_condition(conditions, "Suspended", "False", "Resumed", "", now)
    # Not Reconciling while stalled: kstatus (Flux) reads the first true one of the two.
    conditions = set_condition(conditions, "Reconciling", "False", reason, message, now)
    conditions = set_condition(conditions, "Succeeded", "False", "InProgress", message, now)
    conditions = set_condition(conditions, "Stalled", "True", reason, message, now)
    conditions = set_condition(conditions, "Finished", "False", "InProgress", message, now)
    return _with(status, conditions, generation, startTime=status.get("startTime") or now)


def waiting(
    status: dict[str, Any], generation: int, reason: str, message: str, now: str
) -> dict[str, Any]:
    """The patch for a run that waits for another resource (a ForecastRun for its
    FeatureAnalysis): still in progress, not stalled, and Pending until its Job starts."""
    patch = running(status, generation, message, now)
    patch["conditions"] = set_condition(
        patch["conditions"], "Reconciling", "True", reason, message, now
    )
    patch["phase"] = "Pending"
    return patch


def unschedulable_message(pods: list[dict[str, Any]]) -> str | None:
    """The scheduler's explanation when a Job's pod fits no node, else None."""
    for pod in pods:
        for condition in (pod.get("status") or {}).get("conditions") or []:
            if (
                condition.get("type") == "PodScheduled"
                and condition.get("status") == "False"
                and condition.get("reason") == "Unschedulable"
            ):
                return f"no node can take the pod: {condition.get('message', '').strip()}"
    return None


def pod_creation_failure(events: list[dict[str, Any]]) -> str | None:
    """Why a Job's pods cannot be created (a quota, an admission policy, Pod Security),
    from its Events: the newest FailedCreate when no pod was created after it."""
    latest: dict[str, tuple[str, str]] = {}
    for event in events:
        reason = event.get("reason")
        if reason in ("FailedCreate", "SuccessfulCreate"):
            at = str(
                event.get("lastTimestamp")
                or event.get("eventTime")
                or (event.get("metadata") or {}).get("creationTimestamp")
                or ""
            )
            if reason not in latest or at >= latest[reason][0]:
                latest[reason] = (at, str(event.get("message") or "").strip())
    failed = latest.get("FailedCreate")
    created = latest.get("SuccessfulCreate")
    if failed is None or (created is not None and created[0] > failed[0]):
        return None
    return f"the Job cannot create its pods: {failed[1]}"


def suspended(status: dict[str, Any], generation: int, now: str) -> dict[str, Any]:
    """The patch for a run whose Job is suspended (``spec.suspend: true``)."""
    message = "spec.suspend is true; set it to false to resume"
    conditions = set_condition(
        status.get("conditions", []), "Suspended", "True", "Suspended", message, now
    )
    conditions = set_condition(conditions, "Reconciling", "False", "Suspended", message, now)
    conditions = set_condition(conditions, "Succeeded", "False", "Suspended", message, now)
    conditions = set_condition(conditions, "Finished", "False", "Suspended", message, now)
    return _with(status, conditions, generation, startTime=status.get("startTime") or now)


def succeeded(
    status: dict[str, Any], generation: int, result: dict[str, Any], now: str
) -> dict[str, Any]:
    """The patch for a run whose Job finished: its result, and the closing conditions."""
    conditions = set_condition(
        status.get("conditions", []), "Reconciling", "False", "Completed", "", now
    )
    warnings = result.get("warnings") or []
    conditions = set_condition(
        conditions,
        "Succeeded",
        "True",
        "CompletedWithWarnings" if warnings else "Completed",
        f"the run finished with {len(warnings)} warning{'s' if len(warnings) > 1 else ''}: "
        f"{warnings[0]}"
        if warnings
        else "the run finished",
        now,
    )
    # One condition true at either end: `kubectl wait --for=condition=Finished`.
    conditions = set_condition(conditions, "Finished", "True", "Succeeded", "the run finished", now)
    fields = {k: v for k, v in result.items() if k not in ("phase", "conditions")}
    return _with(
        status,
        conditions,
        generation,
        **fields,
        startTime=status.get("startTime") or now,
        completionTime=now,
    )


def failed(
    status: dict[str, Any], generation: int, reason: str, message: str, now: str
) -> dict[str, Any]:
    """The patch for a run that cannot finish: the reason says what to fix."""
    conditions = set_condition(
        status.get("conditions", []), "Reconciling", "False", reason, message, now
    )
    conditions = set_condition(conditions, "Failed", "True", reason, message, now)
    # Stalled as well: kstatus (Flux) knows no Failed condition, and calls this Failed.
    conditions = set_condition(conditions, "Stalled", "True", reason, message, now)
    conditions = set_condition(conditions, "Succeeded", "False", reason, message, now)
    conditions = set_condition(conditions, "Finished", "True", "Failed", message, now)
    return _with(
        status, conditions, generation, startTime=status.get("startTime") or now, completionTime=now
    )


def job_outcome(job: dict[str, Any]) -> tuple[str, str]:
    """("Running" | "Succeeded" | "Failed", the Job's reason) from a Job's status."""
    conditions = {
        c["type"]: c
        for c in (job.get("status") or {}).get("conditions") or []
        if c.get("status") == "True"
    }
    if "Complete" in conditions or "SuccessCriteriaMet" in conditions:
        return "Succeeded", "Completed"
    for kind in ("Failed", "FailureTarget"):
        if kind in conditions:
            return "Failed", str(conditions[kind].get("reason") or "JobFailed")
    return "Running", ""
