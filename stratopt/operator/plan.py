"""What one reconciliation of a run should do, decided from a snapshot of what exists.

``plan`` is pure: it reads a :class:`~stratopt.operator.snapshot.Snapshot` (the run, its
Jobs, its ConfigMaps' data) and returns the steps (:mod:`stratopt.operator.steps`) that
move the run on, which ``reconcile.act`` applies. Every stage, transition and failure of
a run is decided here, so all of them are unit-tested without a cluster. This module
holds the stages every run goes through (a spec check, its Job, its result); a
distributed search's batches are :mod:`stratopt.operator.pipeline`'s.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import ValidationError

from stratopt.api import SpecError, parse_model
from stratopt.api._parse import relative_paths
from stratopt.api.kinds import KINDS
from stratopt.api.v1alpha1 import OptimizationRunSpec, Progress
from stratopt.api.v1alpha1.status import Phase, Reason, RunStatus
from stratopt.operator import status as projection
from stratopt.operator.manifests import build_finalize_job, build_run_job
from stratopt.operator.pipeline import BatchPipeline
from stratopt.operator.snapshot import JobOutcome, Snapshot, answered, needs_analysis
from stratopt.operator.steps import Compact, Plan, RemoveJobs, StepRecorder
from stratopt.runtime.distributed import SearchState, execution_mode
from stratopt.runtime.protocol import finalize_job_name, job_name
from stratopt.runtime.stored import (
    ResultMissingError,
    kept_names,
    result_name,
    stored_progress,
    stored_status,
)
from stratopt.settings import JobSettings


def plan(snapshot: Snapshot, settings: JobSettings, resume: SearchState | None = None) -> Plan:
    """The steps that move the run one stage on. ``resume`` is the search state a previous plan
    of the same run and revision returned; it only saves work (the result is the same
    without it) and is advanced in place."""
    planner = _Planner(snapshot, settings)
    planner.reconcile(resume)
    return Plan(tuple(planner.steps.steps), planner.search)


class _Planner:
    def __init__(self, snapshot: Snapshot, settings: JobSettings) -> None:
        self.snapshot = snapshot
        self.run = snapshot.run
        self.settings = settings
        self.steps = StepRecorder(snapshot)
        self.search: SearchState | None = None
        #: A distributed search's progress, as its stored results say.
        self.progress: Progress | None = None

    def reconcile(self, resume: SearchState | None) -> None:
        run, status, steps = self.run, self.steps.status, self.steps
        if answered(run, status):
            if status.get("observedGeneration") != run.generation:  # suspend changed
                steps.set_status(RunStatus(observed_generation=run.generation))
            return
        previous = status.get("revision")
        if previous is not None and previous != run.revision:
            steps.announce(
                Reason.RESTARTED,
                f"the spec changed (revision {previous} to {run.revision}): the run starts "
                "over, and the Jobs of the earlier revision are removed",
            )
            steps.set_status(RunStatus())  # stamps the new revision: announced once
        spec = dict(self.snapshot.spec)
        try:
            parsed = parse_model(KINDS[run.kind].spec, spec, "spec")
        except SpecError as exc:
            steps.fail(exc.reason, str(exc))
            return
        relative = relative_paths({"kind": run.kind, "spec": spec})
        if relative:
            at, value = relative[0]
            steps.fail(
                SpecError.reason,
                f"{at}: {value!r} is a relative path, which only `stratopt run` resolves "
                "(against the spec file's folder); on a cluster give an absolute path in the "
                "worker image or a mounted volume, or a URL",
            )
            return
        if result_name(run.name, run.revision) in self.snapshot.results:
            # Its Job stored the answer: report it, whatever state its Jobs are in (a
            # restart may come between compacting the run and writing its status).
            self.report_result()
            return
        if isinstance(parsed, OptimizationRunSpec) and execution_mode(parsed) == "distributed":
            name = finalize_job_name(run.name, run.revision)
            finalize = self.snapshot.jobs.get(name)
            if finalize is None or finalize.outcome is not JobOutcome.SUCCEEDED:
                pipeline = BatchPipeline(self.steps, parsed, self.settings)
                finished = pipeline.advance(resume)
                self.search, self.progress = pipeline.search, pipeline.progress
                if not finished:
                    if finalize is not None:  # it read results since lost: it runs again
                        steps.add(RemoveJobs((finalize.name,)))
                    return
            manifest = build_finalize_job(
                run.name, run.namespace, run.uid, run.revision, self.settings, suspend=run.suspended
            )
        else:
            name = job_name(run.name, run.revision)
            jobs = self.snapshot.jobs
            waiting = self.waiting_for_analysis(spec) if needs_analysis(run, spec, jobs) else None
            if waiting is not None:
                steps.set_if_changed(
                    projection.waiting(
                        steps.lifecycle,
                        run.generation,
                        Reason.WAITING_FOR_FEATURE_ANALYSIS,
                        waiting,
                        steps.now,
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
        phase = analysis.get("phase", Phase.PENDING)
        if phase == Phase.SUCCEEDED:
            return None
        return f"waiting for FeatureAnalysis {name!r} to succeed (it is {phase})"

    def follow(self, name: str, manifest: dict[str, Any]) -> None:
        """Create the run's (or the finalize) Job if absent; when it ends, report its
        result or failure."""
        job = self.snapshot.jobs.get(name)
        if job is None:
            self.steps.ensure(manifest)
            self.steps.announce(Reason.JOB_CREATED, f"Job {name} created")
        else:
            outcome = self.steps.check(job)
            if outcome is JobOutcome.FAILED:
                return
            if outcome is JobOutcome.SUCCEEDED:
                self.report_result()
                return
        update = self.steps.in_progress(job, f"Job {name} running")
        self.steps.set_if_changed(update, progress=self.progress or self.reported_progress())

    def report_result(self) -> None:
        run, steps = self.run, self.steps
        try:
            document = stored_status(self.snapshot.results, run.name, run.revision)
        except ResultMissingError as exc:
            steps.fail(exc.reason, f"the Job succeeded but {exc}")
            return
        if document is None:
            steps.fail(ResultMissingError.reason, "the Job succeeded but wrote no result")
            return
        warnings = list(document.get("warnings") or [])
        closed = projection.succeeded(steps.lifecycle, run.generation, warnings, steps.now)
        kept = kept_names(run.name, run.revision)
        bulk = tuple(sorted(name for name in self.snapshot.results if name not in kept))
        last = (finalize_job_name(run.name, run.revision), job_name(run.name, run.revision))
        done = tuple(sorted(name for name in self.snapshot.jobs if name not in last))
        if bulk or done:
            steps.add(Compact(bulk, done))
        steps.set_status(closed, **projection.result_fields(document))

    def reported_progress(self) -> Progress | None:
        """The progress a single-mode search's pod last reported, if any (and readable)."""
        if self.run.kind != "OptimizationRun":
            return None
        found = stored_progress(self.snapshot.results, self.run.name, self.run.revision)
        try:
            return None if found is None else Progress.model_validate(found)
        except ValidationError:
            return None
