"""The steps a plan returns, which ``reconcile.act`` applies, and the recorder the
planner's stages write them through: a failure, a phase change, a Job to ensure."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from stratopt.api.v1alpha1 import Progress
from stratopt.api.v1alpha1.status import ConditionType, Phase, Reason, RunStatus
from stratopt.operator import status as projection
from stratopt.operator.manifests import queued_job
from stratopt.operator.snapshot import JobOutcome, JobView, Snapshot, WorkloadView, waiting_jobs
from stratopt.runtime.distributed import SearchState
from stratopt.runtime.protocol import WorkerFailure


@dataclass(frozen=True)
class Announce:
    """A milestone, logged and posted as an Event of the run."""

    reason: str
    message: str
    warning: bool = False


@dataclass(frozen=True)
class EnsureJob:
    """Create a Job (and the ConfigMaps it reads) idempotently, after the workers'
    access and with the Jobs of earlier revisions removed."""

    manifest: dict[str, Any]
    config_maps: tuple[dict[str, Any], ...] = ()
    stale: tuple[str, ...] = ()


@dataclass(frozen=True)
class RemoveJobs:
    """Delete Jobs (and their pods) no longer needed: pods started ahead for a batch
    that will not come."""

    jobs: tuple[str, ...]


@dataclass(frozen=True)
class Compact:
    """A succeeded run's bulk, gone before its status is written: the ConfigMaps it no
    longer reads (shard inputs and results, progress, folds) and its batch and fold Jobs
    with their pods. Its result and evaluations ConfigMaps and its last Job stay, so a
    finished run keeps a footprint in etcd that its number of batches does not grow."""

    config_maps: tuple[str, ...]
    jobs: tuple[str, ...]


@dataclass(frozen=True)
class SetSuspended:
    """Suspend or resume a running Job as the spec says (a suspended Job keeps no pods)."""

    job: str
    suspended: bool


@dataclass(frozen=True)
class SetWorkloadActive:
    """Hold back or release a queued Job's Kueue Workload as the run's spec.suspend says:
    Kueue owns that Job's suspend, and deactivating its Workload is how to stop it."""

    workload: str
    active: bool


@dataclass(frozen=True)
class RecordReplay:
    """The time a reconcile spent replaying a distributed search: ``batches`` told to its
    driver (0 when it resumed where the last reconcile stopped) and the next batch asked."""

    seconds: float
    batches: int


@dataclass(frozen=True)
class RecordBatch:
    """A finished batch's wall time, from its Job's start to its completion."""

    seconds: float


@dataclass(frozen=True)
class CountEvaluations:
    """Evaluations finished since the status last said."""

    count: int


@dataclass(frozen=True)
class SetStatus:
    """Fields of the status to write, as the API stores them; ``phase`` among them when
    it is set."""

    fields: dict[str, Any]

    @property
    def phase(self) -> Phase | None:
        phase = self.fields.get("phase")
        return None if phase is None else Phase(phase)


Step = (
    Announce
    | EnsureJob
    | RemoveJobs
    | Compact
    | SetSuspended
    | SetWorkloadActive
    | RecordBatch
    | RecordReplay
    | CountEvaluations
    | SetStatus
)


@dataclass(frozen=True)
class Plan:
    steps: tuple[Step, ...]
    #: Where a distributed search stands, to resume from next time; None otherwise.
    search: SearchState | None = None

    def status(self) -> dict[str, Any]:
        """The status fields the steps write, merged in order."""
        merged: dict[str, Any] = {}
        for step in self.steps:
            if isinstance(step, SetStatus):
                merged.update(step.fields)
        return merged


class StepRecorder:
    """The steps of one plan, as its stages decide them. It knows the status written so
    far, so it announces a phase once and writes only what moved."""

    def __init__(self, snapshot: Snapshot) -> None:
        self.snapshot = snapshot
        self.run = snapshot.run
        #: The status as stored, and its lifecycle fields as the model.
        self.status = dict(snapshot.status)
        self.lifecycle = projection.lifecycle(self.status)
        self.steps: list[Step] = []
        self.phase: Phase | None = self.lifecycle.phase if "phase" in self.status else None

    @property
    def now(self) -> str:
        return self.snapshot.now

    def add(self, step: Step) -> None:
        self.steps.append(step)

    # -- Jobs --------------------------------------------------------------------------

    def ensure(
        self,
        manifest: dict[str, Any],
        config_maps: list[dict[str, Any]] | None = None,
        *,
        replace: tuple[str, ...] = (),
    ) -> None:
        """Create ``manifest``'s Job, removing first the Jobs of earlier revisions and
        those ``replace`` names."""
        stale = tuple(
            sorted(j.name for j in self.snapshot.jobs.values() if j.revision != self.run.revision)
        )
        manifest = queued_job(manifest, dict(self.run.queue))
        self.add(EnsureJob(manifest, tuple(config_maps or ()), (*stale, *replace)))

    def check(self, job: JobView) -> JobOutcome:
        """How ``job`` went. A failure fails the run; a running Job is suspended or
        resumed as the spec says, through its Workload when Kueue owns its suspend."""
        if job.outcome is JobOutcome.FAILED:
            reason = job.reason or Reason.JOB_FAILED
            failure = job.failure or WorkerFailure(
                reason, f"Job {job.name} failed ({reason}); see its pods"
            )
            self.fail(failure.reason, failure.message)
        elif job.outcome is JobOutcome.RUNNING and job.queue is not None:
            workload = job.workload
            if workload is not None and workload.active == self.run.suspended:
                self.add(SetWorkloadActive(workload.name, not self.run.suspended))
        elif job.outcome is JobOutcome.RUNNING and job.suspended != self.run.suspended:
            self.add(SetSuspended(job.name, self.run.suspended))
        return job.outcome

    def in_progress(self, job: JobView | None, message: str) -> RunStatus:
        """The status of an unfinished run: suspended, queued (Kueue holds its Job),
        stalled (its pods cannot be created or fit no node), or running. ``job`` is None
        when just created."""
        run, status, now = self.run, self.lifecycle, self.now
        if run.suspended:
            return projection.suspended(status, run.generation, now)
        if job is not None and job.held:
            workload = job.workload or WorkloadView("")
            message = (
                f"Kueue holds Job {job.name} in LocalQueue {job.queue} ({workload.reason}): "
                f"{workload.message or 'waiting for its Workload'}"
            )
            return projection.queued(status, run.generation, workload.reason, message, now)
        if job is not None and not job.active and job.refused is not None:
            return projection.stalled(
                status, run.generation, Reason.FAILED_CREATE, job.refused, now
            )
        if job is not None and job.unschedulable is not None:
            return projection.stalled(
                status, run.generation, Reason.UNSCHEDULABLE, job.unschedulable, now
            )
        return projection.running(status, run.generation, message, now)

    # -- status ------------------------------------------------------------------------

    def fail(self, reason: str, message: str) -> None:
        self.set_status(
            projection.failed(self.lifecycle, self.run.generation, reason, message, self.now)
        )
        waiting = waiting_jobs(self.snapshot)
        if waiting:  # a failed run keeps no pods waiting for a batch that will not come
            self.add(RemoveJobs(waiting))

    def set_if_changed(self, update: RunStatus, progress: Progress | None = None) -> None:
        """Write only what moved: unchanged conditions keep their entries, so comparing
        them notices a new message or stall without rewriting status every reconcile."""
        extra = {} if progress is None else {"progress": _dumped(progress)}
        fields = {**extra, **projection.patch(update)}
        watched = ("phase", "progress", "conditions", "observedGeneration")
        if any(self.status.get(f) != fields.get(f) for f in watched if f in fields):
            self.set_status(update, **extra)

    def set_status(self, update: RunStatus, **extra: Any) -> None:
        """Write ``update`` (the fields set on it) and the kind's own ``extra`` fields,
        with the revision they answer; a new phase is announced."""
        step = SetStatus({**extra, **projection.patch(update), "revision": self.run.revision})
        self.add(step)
        phase = step.phase
        if phase is None:
            return
        if phase != self.phase:
            self.announce_phase(phase, update, step.fields)
        self.phase = phase

    def announce_phase(self, phase: Phase, update: RunStatus, fields: Mapping[str, Any]) -> None:
        if phase is Phase.RUNNING and self.phase is Phase.QUEUED:
            self.announce(Reason.ADMITTED, f"{self.run.kind} {self.run.name} is running")
        elif phase is Phase.RUNNING:
            resumed = self.phase is Phase.SUSPENDED
            reason = Reason.RESUMED if resumed else Reason.STARTED
            self.announce(reason, f"{self.run.kind} {self.run.name} is running")
        elif phase is Phase.SUSPENDED:
            self.announce(Reason.SUSPENDED, "the run's Job is suspended (spec.suspend is true)")
        elif phase is Phase.QUEUED:
            queued = next(c for c in update.conditions if c.type is ConditionType.QUEUED)
            self.announce(Reason.QUEUED, queued.message)
        elif phase is Phase.SUCCEEDED:
            self.announce(Reason.SUCCEEDED, _summary(fields))
            for warning in fields.get("warnings") or []:
                self.announce(Reason.DEGENERATE, str(warning), warning=True)
        elif phase is Phase.FAILED:
            failed = next(c for c in update.conditions if c.type is ConditionType.FAILED)
            self.announce(failed.reason, failed.message, warning=True)

    def announce(self, reason: str, message: str, *, warning: bool = False) -> None:
        self.add(Announce(reason, message, warning))


def _dumped(progress: Progress) -> dict[str, Any]:
    """A search's progress as the status stores it: the fields it was given."""
    return progress.model_dump(mode="json", by_alias=True, exclude_unset=True, exclude_none=True)


def _summary(fields: Mapping[str, Any]) -> str:
    best = fields.get("best")
    if isinstance(best, dict) and isinstance(best.get("objectives"), dict):
        values = ", ".join(f"{k}={v:.4g}" for k, v in best["objectives"].items())
        return f"finished; best {values}"
    return "finished"
