"""What one reconciliation of a run should do, decided from a snapshot of what exists.

``plan`` is pure: it reads a :class:`Snapshot` (the run, its Jobs, its ConfigMaps'
data) and returns the steps that move the run on, which ``reconcile.act`` applies. Every
stage, transition and failure of a run is decided here, so all of them are unit-tested
without a cluster.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from stratopt.api import SpecError, parse_model
from stratopt.api._parse import relative_paths
from stratopt.api.kinds import KINDS
from stratopt.api.v1alpha1 import OptimizationRunSpec
from stratopt.operator import status as projection
from stratopt.operator.manifests import (
    build_batch_job,
    build_finalize_job,
    build_folds_job,
    build_run_job,
    build_shard_configmaps,
    shards_per_input,
)
from stratopt.operator.queue import RunKey
from stratopt.optimize import ReplayMismatchError
from stratopt.optimize.results import search_progress
from stratopt.optimize.space import Params
from stratopt.runtime.kubernetes import Replay, StoredResults, execution_mode, replay, shard
from stratopt.runtime.protocol import (
    SHARDS_PER_INPUT_LABEL,
    WorkerFailure,
    batch_job_name,
    finalize_job_name,
    fold_result_name,
    folds_job_name,
    job_name,
    plan_name,
    progress_name,
    result_name,
    revision,
    shard_input_name,
    shard_result_name,
)
from stratopt.settings import JobSettings


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
        )


class JobOutcome(StrEnum):
    RUNNING = "Running"
    SUCCEEDED = "Succeeded"
    FAILED = "Failed"


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


def job_view(job: Mapping[str, Any]) -> JobView:
    """A Job as the API serves it (JSON), seen as the plan looks at it."""
    meta, spec, state = job["metadata"], job.get("spec") or {}, job.get("status") or {}
    outcome, reason = projection.job_outcome(dict(job))
    seconds = None
    if state.get("startTime") and state.get("completionTime"):
        started = datetime.fromisoformat(state["startTime"])
        seconds = (datetime.fromisoformat(state["completionTime"]) - started).total_seconds()
    labels = meta.get("labels") or {}
    active, succeeded = int(state.get("active") or 0), int(state.get("succeeded") or 0)
    return JobView(
        meta["name"],
        labels.get("stratopt.io/revision", ""),
        JobOutcome(outcome),
        reason,
        bool(spec.get("suspend")),
        active,
        int(spec.get("completions") or 1),
        active + succeeded,
        int(state.get("ready") or 0) + succeeded,
        int(labels["stratopt.io/batch"]) if "stratopt.io/batch" in labels else None,
        int(labels.get(SHARDS_PER_INPUT_LABEL) or 1),
        seconds,
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
    return status.get("phase") in projection.TERMINAL_PHASES and (
        status.get("observedGeneration") == run.generation or status.get("revision") == run.revision
    )


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
class SetSuspended:
    """Suspend or resume a running Job as the spec says (a suspended Job keeps no pods)."""

    job: str
    suspended: bool


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
    """Fields of the status to write; ``phase`` among them when it is set."""

    fields: dict[str, Any]

    @property
    def phase(self) -> str | None:
        phase = self.fields.get("phase")
        return None if phase is None else str(phase)


Step = Announce | EnsureJob | RemoveJobs | SetSuspended | RecordBatch | CountEvaluations | SetStatus


@dataclass(frozen=True)
class Plan:
    steps: tuple[Step, ...]
    #: Where a distributed search stands, to resume from next time; None otherwise.
    replay: Replay | None = None

    def status(self) -> dict[str, Any]:
        """The status fields the steps write, merged in order."""
        merged: dict[str, Any] = {}
        for step in self.steps:
            if isinstance(step, SetStatus):
                merged.update(step.fields)
        return merged


def plan(snapshot: Snapshot, settings: JobSettings, resume: Replay | None = None) -> Plan:
    """The steps that move the run one stage on. ``resume`` is the replay a previous plan
    of the same run and revision returned; it only saves work (the result is the same
    without it) and is advanced in place."""
    planner = _Planner(snapshot, settings)
    planner.reconcile(resume)
    return Plan(tuple(planner.steps), planner.replay)


class _Planner:
    def __init__(self, snapshot: Snapshot, settings: JobSettings) -> None:
        self.snapshot = snapshot
        self.run = snapshot.run
        self.status = dict(snapshot.status)
        self.settings = settings
        self.steps: list[Step] = []
        self.phase: str | None = self.status.get("phase")
        self.replay: Replay | None = None
        #: A distributed search's progress, as its stored results say.
        self.progress: dict[str, Any] | None = None

    # -- stages ------------------------------------------------------------------------

    def reconcile(self, resume: Replay | None) -> None:
        run, status = self.run, self.status
        if answered(run, status):
            if status.get("observedGeneration") != run.generation:  # suspend changed
                self.set_status({"observedGeneration": run.generation})
            return
        previous = status.get("revision")
        if previous is not None and previous != run.revision:
            self.announce(
                "Restarted",
                f"the spec changed (revision {previous} to {run.revision}): the run starts "
                "over, and the Jobs of the earlier revision are removed",
            )
            self.set_status({})  # stamps the new revision: announced once
        spec = dict(self.snapshot.spec)
        try:
            parsed = parse_model(KINDS[run.kind].spec, spec, "spec")
        except SpecError as exc:
            self.fail(exc.reason, str(exc))
            return
        relative = relative_paths({"kind": run.kind, "spec": spec})
        if relative:
            at, value = relative[0]
            self.fail(
                "InvalidSpec",
                f"{at}: {value!r} is a relative path, which only `stratopt run` resolves "
                "(against the spec file's folder); on a cluster give an absolute path in the "
                "worker image or a mounted volume, or a URL",
            )
            return
        if isinstance(parsed, OptimizationRunSpec) and execution_mode(parsed) == "distributed":
            if not self.distributed(parsed, resume):
                return
            name = finalize_job_name(run.name, run.revision)
            manifest = build_finalize_job(
                run.name, run.namespace, run.uid, run.revision, self.settings, suspend=run.suspended
            )
        else:
            name = job_name(run.name, run.revision)
            jobs = self.snapshot.jobs
            waiting = self.waiting_for_analysis(spec) if needs_analysis(run, spec, jobs) else None
            if waiting is not None:
                self.set_if_changed(
                    projection.waiting(
                        status, run.generation, "WaitingForFeatureAnalysis", waiting, self.now
                    )
                )
                return
            manifest = build_run_job(
                run.kind,
                run.name,
                run.namespace,
                run.uid,
                run.revision,
                spec,
                self.settings,
                suspend=run.suspended,
            )
        self.follow(name, manifest)

    def waiting_for_analysis(self, spec: Mapping[str, Any]) -> str | None:
        name = spec["fromFeatureAnalysis"]
        analysis = self.snapshot.analysis
        if analysis is None:
            return f"waiting for FeatureAnalysis {name!r}, which does not exist yet"
        phase = analysis.get("phase", "Pending")
        if phase == "Succeeded":
            return None
        return f"waiting for FeatureAnalysis {name!r} to succeed (it is {phase})"

    def distributed(self, spec: OptimizationRunSpec, resume: Replay | None) -> bool:
        """Run the next batch's Indexed Job; True once every batch has results."""
        run, results = self.run, self.snapshot.results
        try:
            state = replay(spec, results, run.name, run.revision, resume)
        except ReplayMismatchError as exc:
            self.fail(exc.reason, str(exc))
            return False
        self.replay = state
        evaluated, planned = len(state.driver.evaluations), state.driver.planned_evaluations
        generation = state.driver.progress().get("generation")
        progress = search_progress(
            evaluated, planned, state.batch, generation=generation
        ).model_dump(mode="json", by_alias=True, exclude_none=True)
        self.progress = progress
        done_before = int((self.status.get("progress") or {}).get("evaluationsCompleted", 0))
        if evaluated > done_before:
            self.steps.append(CountEvaluations(evaluated - done_before))
        if state.pending is None:
            unneeded = self.waiting_jobs()
            if unneeded:  # started ahead, but the search ended
                self.steps.append(RemoveJobs(unneeded))
            if spec.walk_forward is None:
                return True
            return self.folds(spec, progress)
        shards = shard(state.pending, spec.execution.shard_size)
        name = batch_job_name(run.name, run.revision, state.batch)
        job = self.snapshot.jobs.get(name)
        written = stored_layout(results, run.name, run.revision, state.batch)
        if written is None:
            self.start_batch(spec, state, shards, job)
            job = None  # its status says nothing of the batch just given to it
        elif job is None or job.completions != written[0]:
            # Its inputs are written but its Job is missing (the operator stopped in
            # between) or is one being replaced: a Job that reads what is written.
            self.ensure(
                self.batch_job(spec, state.batch, written[0], written[1]),
                replace=() if job is None else (job.name,),
            )
        else:
            outcome = self.check(job)
            if outcome is JobOutcome.FAILED:
                return False
            if outcome is JobOutcome.SUCCEEDED:  # its pods store results before they end
                names = [
                    shard_result_name(run.name, run.revision, state.batch, i)
                    for i in range(len(shards))
                ]
                missing = [
                    i for i, at in enumerate(names) if "metrics.json" not in results.get(at, {})
                ]
                self.fail(
                    "ResultMissing",
                    f"Job {name} succeeded but the results of batch {state.batch}, shards "
                    f"{_listed(missing)}, are missing or incomplete",
                )
                return False
            if outcome is JobOutcome.RUNNING:
                self.start_ahead(spec, state, shards, job)
        for ahead in self.snapshot.jobs.values():
            # Suspended and resumed with the batch before it; its failure fails the run.
            later = ahead.revision == run.revision and (ahead.batch or 0) > state.batch
            if later and self.check(ahead) is JobOutcome.FAILED:
                return False
        update = self.in_progress(job, f"batch {state.batch} running")
        self.set_if_changed({**update, "progress": progress})
        return False

    def batch_job(
        self, spec: OptimizationRunSpec, batch: int, shards: int, per_input: int
    ) -> dict[str, Any]:
        run = self.run
        return build_batch_job(
            run.name,
            run.namespace,
            run.uid,
            run.revision,
            batch,
            shards,
            spec.execution.parallelism,
            self.settings,
            per_input=per_input,
            suspend=run.suspended,
        )

    def start_batch(
        self,
        spec: OptimizationRunSpec,
        state: Replay,
        shards: list[list[Params]],
        job: JobView | None,
    ) -> None:
        """Write the batch's inputs, for the pods of its Job started ahead when they fit
        them, else with a Job of its own (replacing one that does not fit)."""
        run = self.run
        name = batch_job_name(run.name, run.revision, state.batch)
        previous = self.snapshot.jobs.get(batch_job_name(run.name, run.revision, state.batch - 1))
        if state.batch > 0 and previous is not None and previous.seconds is not None:
            self.steps.append(RecordBatch(previous.seconds))
        fitted = None if job is None else fit(shards, job.completions, job.per_input)
        replaced: tuple[str, ...]
        if job is not None and fitted is not None:
            layout, per_input, replaced = fitted, job.per_input, ()
        else:
            layout, per_input = shards, shards_per_input(shards)
            replaced = () if job is None else (job.name,)
        config_maps = build_shard_configmaps(
            run.name, run.namespace, run.uid, run.revision, state.batch, layout, per_input
        )
        manifest = self.batch_job(spec, state.batch, len(layout), per_input)
        self.ensure(manifest, config_maps, replace=replaced)
        evaluated = len(state.driver.evaluations)
        planned = state.driver.planned_evaluations
        waiting = " (its pods were started ahead)" if job is not None and not replaced else ""
        self.announce(
            "BatchStarted",
            f"Job {name}: batch {state.batch}, {len(state.pending or ())} evaluations "
            f"in {len(shards)} shards ({evaluated}/{planned} done){waiting}",
        )

    def start_ahead(
        self, spec: OptimizationRunSpec, state: Replay, shards: list[list[Params]], job: JobView
    ) -> None:
        """Start the Jobs of the next ``batches_ahead`` batches, each once every pod of
        the one before it exists and fits a node: their pods load the run and compile
        while the batches before them run, then wait for their inputs, so a generation
        shorter than a pod's start-up does not wait for one. Batch 1's Job waits until
        every container of batch 0 has started: the first batch's start-up then has the
        node's cores to itself, not shared with those of the pods started ahead. (Later
        batches do not wait so: each is started ahead, and waiting for its containers
        would let a short generation outrun the pipeline.) One Job a reconcile; none for
        batches past the search's budget, none while suspended."""
        if self.run.suspended:
            return
        run, driver = self.run, state.driver
        after = driver.planned_evaluations - len(driver.evaluations)
        per_input = max(1, shards_per_input(shards) // 2)  # room for a batch a little larger
        before = job
        for number in range(state.batch + 1, state.batch + 1 + self.settings.batches_ahead):
            after -= len(state.pending or ())  # left after batch number - 1, sizes alike
            if after <= 0 or before.suspended:
                return
            if before.created < before.completions or before.unschedulable is not None:
                return  # its pods would compete with the batch before's for the nodes
            if number == 1 and before.running < before.completions:
                return  # the first batch's containers start first
            found = self.snapshot.jobs.get(batch_job_name(run.name, run.revision, number))
            if found is None:
                self.ensure(self.batch_job(spec, number, job.completions, per_input))
                return
            before = found

    def folds(self, spec: OptimizationRunSpec, progress: dict[str, Any]) -> bool:
        """Run the walk-forward folds as one Indexed Job; True once every fold has a
        result."""
        run, results = self.run, self.snapshot.results
        stored = results.get(plan_name(run.name, run.revision))
        if stored is None or "folds" not in stored:
            self.fail("ResultMissing", "the walk-forward plan its first pod writes is missing")
            return False
        folds = int(stored["folds"])
        missing = [
            i for i in range(folds) if fold_result_name(run.name, run.revision, i) not in results
        ]
        if not missing:
            return True
        name = folds_job_name(run.name, run.revision)
        job = self.snapshot.jobs.get(name)
        if job is None:
            manifest = build_folds_job(
                run.name,
                run.namespace,
                run.uid,
                run.revision,
                folds,
                spec.execution.parallelism,
                self.settings,
                suspend=run.suspended,
            )
            self.ensure(manifest)
            self.announce("FoldsStarted", f"Job {name}: {folds} walk-forward folds")
        else:
            outcome = self.check(job)
            if outcome is JobOutcome.FAILED:
                return False
            if outcome is JobOutcome.SUCCEEDED:
                self.fail(
                    "ResultMissing",
                    f"Job {name} succeeded but the results of folds {_listed(missing)} are missing",
                )
                return False
        done = folds - len(missing)
        update = self.in_progress(job, f"walk-forward: {done}/{folds} folds done")
        self.set_if_changed({**update, "progress": progress})
        return False

    def follow(self, name: str, manifest: dict[str, Any]) -> None:
        """Create the run's (or the finalize) Job if absent; when it ends, report its
        result or failure."""
        job = self.snapshot.jobs.get(name)
        if job is None:
            self.ensure(manifest)
            self.announce("JobCreated", f"Job {name} created")
        else:
            outcome = self.check(job)
            if outcome is JobOutcome.FAILED:
                return
            if outcome is JobOutcome.SUCCEEDED:
                self.report_result()
                return
        update = self.in_progress(job, f"Job {name} running")
        progress = self.progress or self.reported_progress()
        if progress is not None:
            update["progress"] = progress
        self.set_if_changed(update)

    def report_result(self) -> None:
        run = self.run
        result = self.snapshot.results.get(result_name(run.name, run.revision))
        if result is None or "status.json" not in result:
            self.fail("ResultMissing", "the Job succeeded but wrote no result")
            return
        document = _json_object(result["status.json"])
        if document is None:
            self.fail("ResultMissing", "the Job succeeded but its result is not a JSON object")
            return
        self.set_status(projection.succeeded(self.status, run.generation, document, self.now))

    def reported_progress(self) -> dict[str, Any] | None:
        """The progress a single-mode search's pod last reported, if any."""
        if self.run.kind != "OptimizationRun":
            return None
        found = self.snapshot.results.get(progress_name(self.run.name, self.run.revision))
        if found is None or "progress.json" not in found:
            return None
        return _json_object(found["progress.json"])

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
        self.steps.append(EnsureJob(manifest, tuple(config_maps or ()), (*stale, *replace)))

    def check(self, job: JobView) -> JobOutcome:
        """How ``job`` went. A failure fails the run; a running Job is suspended or
        resumed as the spec says."""
        if job.outcome is JobOutcome.FAILED:
            reason = job.reason or "JobFailed"
            failure = job.failure or WorkerFailure(
                reason, f"Job {job.name} failed ({reason}); see its pods"
            )
            self.fail(failure.reason, failure.message)
        elif job.outcome is JobOutcome.RUNNING and job.suspended != self.run.suspended:
            self.steps.append(SetSuspended(job.name, self.run.suspended))
        return job.outcome

    def in_progress(self, job: JobView | None, message: str) -> dict[str, Any]:
        """The status of an unfinished run: suspended, stalled (its pods cannot be
        created or fit no node), or running. ``job`` is None when just created."""
        run, status, now = self.run, self.status, self.now
        if run.suspended:
            return projection.suspended(status, run.generation, now)
        if job is not None and not job.active and job.refused is not None:
            return projection.stalled(status, run.generation, "FailedCreate", job.refused, now)
        if job is not None and job.unschedulable is not None:
            return projection.stalled(
                status, run.generation, "Unschedulable", job.unschedulable, now
            )
        return projection.running(status, run.generation, message, now)

    # -- status ------------------------------------------------------------------------

    @property
    def now(self) -> str:
        return self.snapshot.now

    def fail(self, reason: str, message: str) -> None:
        self.set_status(
            projection.failed(self.status, self.run.generation, reason, message, self.now)
        )
        waiting = self.waiting_jobs()
        if waiting:  # a failed run keeps no pods waiting for a batch that will not come
            self.steps.append(RemoveJobs(waiting))

    def waiting_jobs(self) -> tuple[str, ...]:
        """The running batch Jobs of this revision whose inputs are not written: their
        pods, started ahead, wait for them."""
        run, results = self.run, self.snapshot.results
        return tuple(
            sorted(
                j.name
                for j in self.snapshot.jobs.values()
                if j.revision == run.revision
                and j.outcome is JobOutcome.RUNNING
                and j.batch is not None
                and stored_layout(results, run.name, run.revision, j.batch) is None
            )
        )

    def set_if_changed(self, update: dict[str, Any]) -> None:
        """Write only what moved: unchanged conditions keep their entries, so comparing
        them notices a new message or stall without rewriting status every reconcile."""
        fields = ("phase", "progress", "conditions", "observedGeneration")
        if any(self.status.get(f) != update.get(f) for f in fields if f in update):
            self.set_status(update)

    def set_status(self, fields: dict[str, Any]) -> None:
        """Write ``fields`` with the revision they answer; a new phase is announced."""
        self.steps.append(SetStatus({**fields, "revision": self.run.revision}))
        phase = fields.get("phase")
        if phase is None:
            return
        if phase != self.phase:
            self.announce_phase(str(phase), fields)
        self.phase = str(phase)

    def announce_phase(self, phase: str, fields: Mapping[str, Any]) -> None:
        if phase == "Running":
            reason = "Resumed" if self.phase == "Suspended" else "Started"
            self.announce(reason, f"{self.run.kind} {self.run.name} is running")
        elif phase == "Suspended":
            self.announce("Suspended", "the run's Job is suspended (spec.suspend is true)")
        elif phase == "Succeeded":
            self.announce("Succeeded", _summary(fields))
            for warning in fields.get("warnings") or []:
                self.announce("Degenerate", str(warning), warning=True)
        elif phase == "Failed":
            failed = next(c for c in fields["conditions"] if c["type"] == "Failed")
            self.announce(failed["reason"], failed["message"], warning=True)

    def announce(self, reason: str, message: str, *, warning: bool = False) -> None:
        self.steps.append(Announce(reason, message, warning))


def stored_layout(
    results: StoredResults, name: str, revision: str, batch: int
) -> tuple[int, int] | None:
    """(shards, shards per input ConfigMap) of a batch whose inputs are written; None
    before."""
    first = results.get(shard_input_name(name, revision, batch, 0))
    if first is None:
        return None
    shards, part = 0, 0
    while (found := results.get(shard_input_name(name, revision, batch, part))) is not None:
        shards += len(found)
        part += 1
    return shards, max(1, len(first))


def fit(shards: list[list[Params]], pods: int, per_input: int) -> list[list[Params]] | None:
    """``shards`` laid out for a Job of ``pods`` pods started ahead whose inputs hold
    ``per_input`` shards each: padded with empty shards (whose pods store no metrics), or
    None when they are more than its pods or too large for its inputs."""
    if len(shards) > pods:
        return None
    padded = shards + [[] for _ in range(pods - len(shards))]
    return padded if shards_per_input(padded) >= per_input else None


def _summary(fields: Mapping[str, Any]) -> str:
    best = fields.get("best")
    if isinstance(best, dict) and isinstance(best.get("objectives"), dict):
        values = ", ".join(f"{k}={v:.4g}" for k, v in best["objectives"].items())
        return f"finished; best {values}"
    return "finished"


def _listed(numbers: list[int]) -> str:
    shown = ", ".join(str(n) for n in numbers[:10])
    return shown + (f" and {len(numbers) - 10} more" if len(numbers) > 10 else "")


def _json_object(text: str) -> dict[str, Any] | None:
    try:
        found = json.loads(text)
    except ValueError:
        return None
    return found if isinstance(found, dict) else None
