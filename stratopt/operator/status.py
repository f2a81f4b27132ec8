"""Status projection: Kubernetes-style conditions and the phase derived from them.

Pure functions over the :class:`~stratopt.api.v1alpha1.status.RunStatus` and
:class:`~stratopt.api.v1alpha1.status.Condition` models. Each returns a patch: a
``RunStatus`` holding only the fields it sets (:func:`patch` dumps them at the write
boundary). Setting a condition keeps its entry when its status and reason are
unchanged, and keeps ``lastTransitionTime`` unless the status flips.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from stratopt.api.v1alpha1.status import (
    TERMINAL_PHASES,
    Condition,
    ConditionType,
    Phase,
    Reason,
    RunStatus,
)

__all__ = ["TERMINAL_PHASES"]

Truth = Literal["True", "False"]
_LIFECYCLE = {field.alias or name: name for name, field in RunStatus.model_fields.items()}


def lifecycle(status: Mapping[str, Any]) -> RunStatus:
    """The lifecycle fields of a status as the API stores it (JSON)."""
    return RunStatus.model_validate({k: v for k, v in status.items() if k in _LIFECYCLE})


def patch(status: RunStatus) -> dict[str, Any]:
    """The fields a patch sets, as the API stores them."""
    return status.model_dump(mode="json", by_alias=True, exclude_unset=True)


def set_condition(
    conditions: list[Condition],
    kind: ConditionType,
    status: Truth,
    reason: str,
    message: str,
    now: str,
) -> list[Condition]:
    """A new list with condition ``kind`` set; unchanged entries are kept as they are."""
    updated = []
    found = False
    for condition in conditions:
        if condition.type != kind:
            updated.append(condition)
            continue
        found = True
        if condition.status == status and condition.reason == reason:
            updated.append(condition.model_copy(update={"message": message}))
            continue
        kept = condition.status == status and condition.last_transition_time is not None
        transition = condition.last_transition_time if kept else now
        updated.append(_condition(kind, status, reason, message, transition))
    if not found:
        updated.append(_condition(kind, status, reason, message, now))
    return updated


def _condition(
    kind: ConditionType, status: Truth, reason: str, message: str, at: str | None
) -> Condition:
    return Condition(
        type=kind, status=status, reason=reason, message=message, last_transition_time=at
    )


def phase_of(conditions: list[Condition]) -> Phase:
    """The phase the conditions imply."""
    true = {c.type for c in conditions if c.status == "True"}
    for kind, phase in (
        (ConditionType.FAILED, Phase.FAILED),
        (ConditionType.SUCCEEDED, Phase.SUCCEEDED),
        (ConditionType.SUSPENDED, Phase.SUSPENDED),
        (ConditionType.QUEUED, Phase.QUEUED),
        (ConditionType.STALLED, Phase.PENDING),
        (ConditionType.RECONCILING, Phase.RUNNING),
    ):
        if kind in true:
            return phase
    return Phase.PENDING


def _has(conditions: list[Condition], kind: ConditionType) -> bool:
    return any(c.type == kind for c in conditions)


def _with(
    conditions: list[Condition], generation: int, *, phase: Phase | None = None, **fields: Any
) -> RunStatus:
    return RunStatus(
        conditions=conditions,
        phase=phase_of(conditions) if phase is None else phase,
        observed_generation=generation,
        **fields,
    )


def running(status: RunStatus, generation: int, message: str, now: str) -> RunStatus:
    """The patch for a run whose Job is under way."""
    conditions = _under_way(status.conditions, Reason.JOB_RUNNING, message, now)
    if _has(conditions, ConditionType.QUEUED):
        conditions = set_condition(
            conditions, ConditionType.QUEUED, "False", Reason.ADMITTED, "", now
        )
    return _with(conditions, generation, start_time=status.start_time or now)


def queued(status: RunStatus, generation: int, reason: str, message: str, now: str) -> RunStatus:
    """The patch for a run whose Job Kueue holds (its quota is used, others are ahead of
    it, or it was preempted): in progress, not stalled, with the Workload's reason and
    message, until Kueue admits it."""
    conditions = _under_way(status.conditions, Reason.QUEUED, message, now)
    conditions = set_condition(conditions, ConditionType.QUEUED, "True", reason, message, now)
    return _with(conditions, generation, start_time=status.start_time or now)


def _under_way(
    conditions: list[Condition], reason: Reason, message: str, now: str
) -> list[Condition]:
    """``conditions`` of a run in progress: neither suspended nor stalled."""
    if _has(conditions, ConditionType.SUSPENDED):
        conditions = set_condition(
            conditions, ConditionType.SUSPENDED, "False", Reason.RESUMED, "", now
        )
    if _has(conditions, ConditionType.STALLED):
        conditions = set_condition(
            conditions, ConditionType.STALLED, "False", Reason.RESOLVED, "", now
        )
    under_way: tuple[tuple[ConditionType, Truth, Reason], ...] = (
        (ConditionType.RECONCILING, "True", reason),
        (ConditionType.SUCCEEDED, "False", Reason.IN_PROGRESS),
        (ConditionType.FINISHED, "False", Reason.IN_PROGRESS),
    )
    for kind, truth, why in under_way:
        conditions = set_condition(conditions, kind, truth, why, message, now)
    return conditions


def stalled(status: RunStatus, generation: int, reason: str, message: str, now: str) -> RunStatus:
    """The patch for a run whose Job cannot start, e.g. no node can take its pods; it
    goes on by itself once the cause is gone (a node joins, a GPU frees up)."""
    conditions = status.conditions
    for kind, why in (
        (ConditionType.SUSPENDED, Reason.RESUMED),
        (ConditionType.QUEUED, Reason.ADMITTED),
    ):
        if _has(conditions, kind):
            conditions = set_condition(conditions, kind, "False", why, "", now)
    # Not Reconciling while stalled: kstatus (Flux) reads the first true one of the two.
    conditions = set_condition(conditions, ConditionType.RECONCILING, "False", reason, message, now)
    conditions = set_condition(
        conditions, ConditionType.SUCCEEDED, "False", Reason.IN_PROGRESS, message, now
    )
    conditions = set_condition(conditions, ConditionType.STALLED, "True", reason, message, now)
    conditions = set_condition(
        conditions, ConditionType.FINISHED, "False", Reason.IN_PROGRESS, message, now
    )
    return _with(conditions, generation, start_time=status.start_time or now)


def waiting(status: RunStatus, generation: int, reason: str, message: str, now: str) -> RunStatus:
    """The patch for a run that waits for another resource (a ForecastRun for its
    FeatureAnalysis): still in progress, not stalled, and Pending until its Job starts."""
    started = running(status, generation, message, now)
    conditions = set_condition(
        started.conditions, ConditionType.RECONCILING, "True", reason, message, now
    )
    return _with(conditions, generation, phase=Phase.PENDING, start_time=started.start_time)


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


def suspended(status: RunStatus, generation: int, now: str) -> RunStatus:
    """The patch for a run whose Job is suspended (``spec.suspend: true``)."""
    message = "spec.suspend is true; set it to false to resume"
    conditions = set_condition(
        status.conditions, ConditionType.SUSPENDED, "True", Reason.SUSPENDED, message, now
    )
    for kind in (ConditionType.RECONCILING, ConditionType.SUCCEEDED, ConditionType.FINISHED):
        conditions = set_condition(conditions, kind, "False", Reason.SUSPENDED, message, now)
    return _with(conditions, generation, start_time=status.start_time or now)


def succeeded(status: RunStatus, generation: int, warnings: list[str], now: str) -> RunStatus:
    """The patch for a run whose Job finished with ``warnings``: the closing conditions
    (the result's own fields are written beside it)."""
    conditions = set_condition(
        status.conditions, ConditionType.RECONCILING, "False", Reason.COMPLETED, "", now
    )
    conditions = set_condition(
        conditions,
        ConditionType.SUCCEEDED,
        "True",
        Reason.COMPLETED_WITH_WARNINGS if warnings else Reason.COMPLETED,
        f"the run finished with {len(warnings)} warning{'s' if len(warnings) > 1 else ''}: "
        f"{warnings[0]}"
        if warnings
        else "the run finished",
        now,
    )
    # One condition true at either end: `kubectl wait --for=condition=Finished`.
    conditions = set_condition(
        conditions, ConditionType.FINISHED, "True", Reason.SUCCEEDED, "the run finished", now
    )
    return _with(conditions, generation, start_time=status.start_time or now, completion_time=now)


def result_fields(result: Mapping[str, Any]) -> dict[str, Any]:
    """What a finished run's result document writes beside the lifecycle fields."""
    return {k: v for k, v in result.items() if k not in ("phase", "conditions")}


def failed(status: RunStatus, generation: int, reason: str, message: str, now: str) -> RunStatus:
    """The patch for a run that cannot finish: the reason says what to fix."""
    ended: tuple[tuple[ConditionType, Truth], ...] = (
        (ConditionType.RECONCILING, "False"),
        (ConditionType.FAILED, "True"),
        # Stalled as well: kstatus (Flux) knows no Failed condition, and calls this Failed.
        (ConditionType.STALLED, "True"),
        (ConditionType.SUCCEEDED, "False"),
    )
    conditions = status.conditions
    for kind, truth in ended:
        conditions = set_condition(conditions, kind, truth, reason, message, now)
    conditions = set_condition(
        conditions, ConditionType.FINISHED, "True", Reason.FAILED, message, now
    )
    return _with(conditions, generation, start_time=status.start_time or now, completion_time=now)
