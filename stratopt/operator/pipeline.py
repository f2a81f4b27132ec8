"""The batch pipeline of a distributed search: where the search stands (replayed from
what its pods stored), the Indexed Job of the batch it waits for, the Jobs started ahead
for the batches after it, then the walk-forward folds.

Each reconcile replays the stored results (or carries on from the previous reconcile's
replay), so a restarted operator decides exactly what the one before it would have.
"""

from __future__ import annotations

import time
from typing import Any

from stratopt.api.v1alpha1 import OptimizationRunSpec, Progress
from stratopt.api.v1alpha1.status import Reason
from stratopt.operator.manifests import build_batch_job, build_folds_job, build_shard_configmaps
from stratopt.operator.snapshot import JobOutcome, JobView, waiting_jobs
from stratopt.operator.steps import (
    CountEvaluations,
    RecordBatch,
    RecordReplay,
    RemoveJobs,
    StepRecorder,
)
from stratopt.optimize import ReplayMismatchError
from stratopt.optimize.results import search_progress
from stratopt.runtime.distributed import SearchState, search_state
from stratopt.runtime.protocol import batch_job_name, folds_job_name
from stratopt.runtime.stored import (
    MAX_RERUNS,
    Params,
    ResultMissingError,
    missing_folds,
    missing_shards,
    shard,
    shards_per_input,
    stored_fold_count,
    stored_layout,
)
from stratopt.settings import JobSettings


class BatchPipeline:
    """One reconcile of a distributed search, writing its steps through ``steps``."""

    def __init__(
        self, steps: StepRecorder, spec: OptimizationRunSpec, settings: JobSettings
    ) -> None:
        self.steps, self.spec, self.settings = steps, spec, settings
        self.snapshot, self.run = steps.snapshot, steps.run
        #: Where the search stands, to resume from next time; None until replayed.
        self.search: SearchState | None = None
        #: The search's progress, as its stored results say; None until replayed.
        self.progress: Progress | None = None

    def advance(self, resume: SearchState | None) -> bool:
        """Run the next batch's Indexed Job; True once every batch and fold has results."""
        run, results, steps = self.run, self.snapshot.results, self.steps
        started = time.perf_counter()
        try:
            state = search_state(self.spec, results, run.name, run.revision, resume)
        except ReplayMismatchError as exc:
            steps.fail(exc.reason, str(exc))
            return False
        resumed = resume is not None and state.driver is resume.driver
        told = state.batch - (resume.batch if resume is not None and resumed else 0)
        steps.add(RecordReplay(time.perf_counter() - started, told))
        self.search = state
        evaluated, planned = len(state.driver.evaluations), state.driver.planned_evaluations
        generation = state.driver.progress().get("generation")
        self.progress = search_progress(evaluated, planned, state.batch, generation=generation)
        done_before = int((steps.status.get("progress") or {}).get("evaluationsCompleted", 0))
        if evaluated > done_before:
            steps.add(CountEvaluations(evaluated - done_before))
        if state.pending is None:
            unneeded = waiting_jobs(self.snapshot)
            if unneeded:  # started ahead, but the search ended
                steps.add(RemoveJobs(unneeded))
            return self.spec.walk_forward is None or self.folds()
        self.batch(state)
        return False

    def batch(self, state: SearchState) -> None:
        """Follow the Job of the batch the search waits for: write its inputs, replace a
        Job that does not read them, start the next batches' Jobs ahead."""
        run, results, steps = self.run, self.snapshot.results, self.steps
        shards = shard(state.pending or [], self.spec.execution.shard_size)
        name = batch_job_name(run.name, run.revision, state.batch)
        job = self.snapshot.jobs.get(name)
        written = stored_layout(results, run.name, run.revision, state.batch)
        if written is None:
            self.start_batch(state, shards, job)
            job = None  # its status says nothing of the batch just given to it
        elif job is None or job.completions != written[0]:
            # Its inputs are written but its Job is missing (the operator stopped in
            # between) or is one being replaced: a Job that reads what is written.
            steps.ensure(
                self.batch_job(state.batch, written[0], written[1]),
                replace=() if job is None else (job.name,),
            )
        else:
            outcome = steps.check(job)
            if outcome is JobOutcome.FAILED:
                return
            if outcome is JobOutcome.SUCCEEDED:  # its pods store results before they end
                missing = missing_shards(results, run.name, run.revision, state.batch, len(shards))
                self.rerun(state.batch, job, written, missing)
                return
            if outcome is JobOutcome.RUNNING:
                self.start_ahead(state, shards, job)
        for ahead in self.snapshot.jobs.values():
            # Suspended and resumed with the batch before it; its failure fails the run.
            later = ahead.revision == run.revision and (ahead.batch or 0) > state.batch
            if later and steps.check(ahead) is JobOutcome.FAILED:
                return
        update = steps.in_progress(job, f"batch {state.batch} running")
        steps.set_if_changed(update, progress=self.progress)

    def rerun(self, batch: int, job: JobView, written: tuple[int, int], missing: list[int]) -> None:
        """A succeeded batch whose results are gone (deleted, or lost with etcd's data):
        its Job runs again, as it was, a bounded number of times; then the run fails."""
        steps, lost = self.steps, _listed(missing)
        if job.reruns >= MAX_RERUNS:
            steps.fail(
                ResultMissingError.reason,
                f"Job {job.name} succeeded but the results of batch {batch}, shards {lost}, "
                f"are missing or incomplete (after {job.reruns} reruns)",
            )
            return
        steps.ensure(
            self.batch_job(batch, written[0], written[1], rerun=job.reruns + 1),
            replace=(job.name,),
        )
        steps.announce(
            Reason.BATCH_RERUN,
            f"the results of batch {batch}, shards {lost}, are missing though Job "
            f"{job.name} succeeded: the batch runs again",
            warning=True,
        )
        update = steps.in_progress(None, f"batch {batch} running again")
        steps.set_if_changed(update, progress=self.progress)

    def batch_job(self, batch: int, shards: int, per_input: int, rerun: int = 0) -> dict[str, Any]:
        run = self.run
        return build_batch_job(
            run.name,
            run.namespace,
            run.uid,
            run.revision,
            batch,
            shards,
            self.spec.execution.parallelism,
            self.settings,
            per_input=per_input,
            suspend=run.suspended,
            rerun=rerun,
        )

    def start_batch(
        self, state: SearchState, shards: list[list[Params]], job: JobView | None
    ) -> None:
        """Write the batch's inputs, for the pods of its Job started ahead when they fit
        them, else with a Job of its own (replacing one that does not fit)."""
        run, steps = self.run, self.steps
        name = batch_job_name(run.name, run.revision, state.batch)
        previous = self.snapshot.jobs.get(batch_job_name(run.name, run.revision, state.batch - 1))
        if state.batch > 0 and previous is not None and previous.seconds is not None:
            steps.add(RecordBatch(previous.seconds))
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
        steps.ensure(
            self.batch_job(state.batch, len(layout), per_input), config_maps, replace=replaced
        )
        evaluated = len(state.driver.evaluations)
        planned = state.driver.planned_evaluations
        waiting = " (its pods were started ahead)" if job is not None and not replaced else ""
        steps.announce(
            Reason.BATCH_STARTED,
            f"Job {name}: batch {state.batch}, {len(state.pending or ())} evaluations "
            f"in {len(shards)} shards ({evaluated}/{planned} done){waiting}",
        )

    def start_ahead(self, state: SearchState, shards: list[list[Params]], job: JobView) -> None:
        """Start the Jobs of the next ``batches_ahead`` batches, each once every pod of
        the one before it exists and fits a node: their pods load the run and compile
        while the batches before them run, then wait for their inputs, so a generation
        shorter than a pod's start-up does not wait for one. Batch 1's Job waits until
        every container of batch 0 has started: the first batch's start-up then has the
        node's cores to itself, not shared with those of the pods started ahead. (Later
        batches do not wait so: each is started ahead, and waiting for its containers
        would let a short generation outrun the pipeline.) One Job a reconcile; none for
        batches past the search's budget, none while suspended, and none for a run Kueue
        queues: pods waiting for inputs would hold quota others wait for, and a later
        batch admitted before an earlier one would wait for it forever."""
        if self.run.suspended or self.run.queue or job.queue is not None:
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
                self.steps.ensure(self.batch_job(number, job.completions, per_input))
                return
            before = found

    def folds(self) -> bool:
        """Run the walk-forward folds as one Indexed Job; True once every fold has a
        result."""
        run, results, steps = self.run, self.snapshot.results, self.steps
        folds = stored_fold_count(results, run.name, run.revision)
        if folds is None:
            steps.fail(
                ResultMissingError.reason, "the walk-forward plan its first pod writes is missing"
            )
            return False
        missing = missing_folds(results, run.name, run.revision, folds)
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
                self.spec.execution.parallelism,
                self.settings,
                suspend=run.suspended,
            )
            steps.ensure(manifest)
            steps.announce(Reason.FOLDS_STARTED, f"Job {name}: {folds} walk-forward folds")
        else:
            outcome = steps.check(job)
            if outcome is JobOutcome.FAILED:
                return False
            if outcome is JobOutcome.SUCCEEDED:
                steps.fail(
                    ResultMissingError.reason,
                    f"Job {name} succeeded but the results of folds {_listed(missing)} are missing",
                )
                return False
        done = folds - len(missing)
        update = steps.in_progress(job, f"walk-forward: {done}/{folds} folds done")
        steps.set_if_changed(update, progress=self.progress)
        return False


def fit(shards: list[list[Params]], pods: int, per_input: int) -> list[list[Params]] | None:
    """``shards`` laid out for a Job of ``pods`` pods started ahead whose inputs hold
    ``per_input`` shards each: padded with empty shards (whose pods store no metrics), or
    None when they are more than its pods or too large for its inputs."""
    if len(shards) > pods:
        return None
    padded = shards + [[] for _ in range(pods - len(shards))]
    return padded if shards_per_input(padded) >= per_input else None


def _listed(numbers: list[int]) -> str:
    shown = ", ".join(str(n) for n in numbers[:10])
    return shown + (f" and {len(numbers) - 10} more" if len(numbers) > 10 else "")
