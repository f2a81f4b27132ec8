"""What one reconciliation reads before it writes anything: the run, its Jobs, its
ConfigMaps' data, as :func:`~stratopt.operator.plan.plan` looks at them."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from stratopt.api.v1alpha1.status import TERMINAL_PHASES, Reason
from stratopt.operator.queue import RunKey
from stratopt.runtime.protocol import (
    BATCH_LABEL,
    QUEUE_LABEL,
    WorkerFailure,
    job_name,
    queue_labels,
    revision,
)
from stratopt.runtime.stored import (
    RERUN_LABEL,
    SHARDS_PER_INPUT_LABEL,
    StoredResults,
    stored_layout,
)


@dataclass(frozen=True)
class Run:
    """The resource being reconciled: who it is and what its spec asks for now."""

    kind: str
    name: str
    namespace: str
    uid: str
    generation: int
    revision: str
    suspended: bool
    #: The run's Kueue labels (queue, priority), which its Jobs carry.
    queue: tuple[tuple[str, str], ...] = ()

    @property
    def key(self) -> RunKey:
        return RunKey(self.kind, self.namespace, self.name)

    def reference(self) -> dict[str, str]:
        """The run as kopf's JSON logs name objects."""
        return {**self.key.reference(), "uid": self.uid}

    @classmethod
    def of(cls, kind: str, body: Mapping[str, Any]) -> Run:
        meta, spec = body["metadata"], dict(body.get("spec") or {})
        return cls(
            kind,
            meta["name"],
            meta["namespace"],
            meta["uid"],
            meta["generation"],
            revision(spec),
            bool(spec.get("suspend")),
            tuple(sorted(queue_labels(meta.get("labels") or {}).items())),
        )


class JobOutcome(StrEnum):
    RUNNING = "Running"
    SUCCEEDED = "Succeeded"
    FAILED = "Failed"


def job_outcome(job: Mapping[str, Any]) -> tuple[JobOutcome, str]:
    """How a Job went, and its reason, from the conditions of its status."""
    conditions = {
        c["type"]: c
        for c in (job.get("status") or {}).get("conditions") or []
        if c.get("status") == "True"
    }
    if "Complete" in conditions or "SuccessCriteriaMet" in conditions:
        return JobOutcome.SUCCEEDED, "Completed"
    for kind in ("Failed", "FailureTarget"):
        if kind in conditions:
            return JobOutcome.FAILED, str(conditions[kind].get("reason") or Reason.JOB_FAILED)
    return JobOutcome.RUNNING, ""


@dataclass(frozen=True)
class WorkloadView:
    """The Kueue Workload of a queued Job: whether it may run, and why it waits."""

    name: str
    active: bool = True  # false while the run's spec.suspend holds it back
    admitted: bool = False
    reason: str = "Pending"
    message: str = ""


def workload_view(workload: Mapping[str, Any]) -> WorkloadView:
    """A Workload as the API serves it: the newest word on why it waits (evicted,
    preempted, no quota) from its conditions."""
    conditions = {c["type"]: c for c in (workload.get("status") or {}).get("conditions") or []}
    admitted = (conditions.get("Admitted") or {}).get("status") == "True"
    reason, message = "Pending", "waiting for Kueue to reserve quota"
    evicted, reserved = conditions.get("Evicted"), conditions.get("QuotaReserved")
    if evicted is not None and evicted.get("status") == "True":
        reason, message = evicted.get("reason") or "Evicted", evicted.get("message") or ""
    elif reserved is not None and reserved.get("status") == "False":
        reason, message = reserved.get("reason") or reason, reserved.get("message") or message
    elif reserved is not None:
        reason, message = "QuotaReserved", "quota reserved; waiting for its admission checks"
    return WorkloadView(
        workload["metadata"]["name"],
        (workload.get("spec") or {}).get("active", True) is not False,
        admitted,
        str(reason),
        str(message),
    )


@dataclass(frozen=True)
class JobView:
    """One of the run's Jobs, as much of it as the plan looks at."""

    name: str
    revision: str
    outcome: JobOutcome = JobOutcome.RUNNING
    reason: str = ""  # the reason of the Job's final condition
    suspended: bool = False
    active: int = 0
    completions: int = 1
    created: int = 0  # its pods that exist and have not failed: pending, running or done
    running: int = 0  # its pods whose containers have started (ready) or are done
    batch: int | None = None  # of a batch's Job
    per_input: int = 1  # shards per input ConfigMap, of a batch's Job
    seconds: float | None = None  # from start to completion, once complete
    failure: WorkerFailure | None = None  # what its failed pod reported, if any
    refused: str | None = None  # why it cannot create its pods (its FailedCreate Event)
    unschedulable: str | None = None  # why its pending pod fits no node
    uid: str = ""
    queue: str | None = None  # the Kueue LocalQueue that holds it, if any
    workload: WorkloadView | None = None  # Kueue's, of a queued Job once read
    reruns: int = 0  # times its batch ran again for lost results

    @property
    def held(self) -> bool:
        """Kueue holds it: queued and suspended (not admitted, or evicted)."""
        return self.queue is not None and self.suspended


def job_view(job: Mapping[str, Any]) -> JobView:
    """A Job as the API serves it (JSON), seen as the plan looks at it."""
    meta, spec, state = job["metadata"], job.get("spec") or {}, job.get("status") or {}
    outcome, reason = job_outcome(job)
    seconds = None
    if state.get("startTime") and state.get("completionTime"):
        started = datetime.fromisoformat(state["startTime"])
        seconds = (datetime.fromisoformat(state["completionTime"]) - started).total_seconds()
    labels = meta.get("labels") or {}
    active, succeeded = int(state.get("active") or 0), int(state.get("succeeded") or 0)
    return JobView(
        meta["name"],
        labels.get("stratopt.io/revision", ""),
        outcome,
        reason,
        bool(spec.get("suspend")),
        active,
        int(spec.get("completions") or 1),
        active + succeeded,
        int(state.get("ready") or 0) + succeeded,
        int(labels[BATCH_LABEL]) if BATCH_LABEL in labels else None,
        int(labels.get(SHARDS_PER_INPUT_LABEL) or 1),
        seconds,
        uid=str(meta.get("uid") or ""),
        queue=labels.get(QUEUE_LABEL),
        reruns=int(labels.get(RERUN_LABEL) or 0),
    )


@dataclass(frozen=True)
class Snapshot:
    """Everything one reconciliation reads, before it writes anything."""

    run: Run
    spec: Mapping[str, Any]
    status: Mapping[str, Any]
    now: str
    jobs: Mapping[str, JobView] = field(default_factory=dict)  # every revision's, by name
    results: StoredResults = field(default_factory=dict)  # this revision's ConfigMaps
    #: The status of the FeatureAnalysis ``spec.fromFeatureAnalysis`` names; None when
    #: it does not exist. Read only while the run's Job waits for it.
    analysis: Mapping[str, Any] | None = None


def needs_analysis(run: Run, spec: Mapping[str, Any], jobs: Mapping[str, Any]) -> bool:
    """Whether the plan looks at the run's FeatureAnalysis: it has one and no Job yet."""
    return bool(spec.get("fromFeatureAnalysis")) and job_name(run.name, run.revision) not in jobs


def answered(run: Run, status: Mapping[str, Any]) -> bool:
    """A finished run whose status answers its spec's revision (only ``suspend``, which
    is not part of it, may have changed): the plan reads nothing more of it."""
    return status.get("phase") in TERMINAL_PHASES and (
        status.get("observedGeneration") == run.generation or status.get("revision") == run.revision
    )


def waiting_jobs(snapshot: Snapshot) -> tuple[str, ...]:
    """The running batch Jobs of the run's revision whose inputs are not written: their
    pods, started ahead, wait for them."""
    run, results = snapshot.run, snapshot.results
    return tuple(
        sorted(
            j.name
            for j in snapshot.jobs.values()
            if j.revision == run.revision
            and j.outcome is JobOutcome.RUNNING
            and j.batch is not None
            and stored_layout(results, run.name, run.revision, j.batch) is None
        )
    )
