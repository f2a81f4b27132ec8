"""The operator's planner: every stage and transition of a run, decided from snapshots
of what exists, without a cluster."""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import pytest

from stratopt.operator.manifests import build_shard_configmaps
from stratopt.operator.plan import plan
from stratopt.operator.snapshot import JobOutcome, JobView, Run, Snapshot, job_view
from stratopt.operator.steps import (
    Announce,
    Compact,
    CountEvaluations,
    EnsureJob,
    Plan,
    RecordBatch,
    RecordReplay,
    RemoveJobs,
    SetStatus,
    SetSuspended,
)
from stratopt.runtime.distributed import search_state
from stratopt.runtime.protocol import (
    WorkerFailure,
    batch_job_name,
    finalize_job_name,
    folds_job_name,
    job_name,
    revision,
)
from stratopt.runtime.stored import (
    MAX_RERUNS,
    StoredResults,
    evaluations_name,
    fold_result_name,
    plan_name,
    progress_name,
    result_name,
    shard,
    shard_input_name,
    shard_result_name,
    shards_per_input,
)
from stratopt.settings import JobSettings

SETTINGS = JobSettings()
NOW = "2026-01-02T03:04:05Z"

SINGLE: dict[str, Any] = {
    "seed": 42,
    "backtest": {
        "data": {"source": "synthetic:gbm?bars=2000&freq=1h&seed=7", "pipSize": 0.0001},
        "strategy": {
            "name": "rsi_reversion",
            "parameters": {"rsi_period": 14, "rsi_threshold": 30},
        },
        "capital": 100000,
        "leverage": 20,
    },
    "parameters": [
        {"name": "stop_loss", "type": "float", "min": 20, "max": 80},
        {"name": "take_profit", "type": "float", "min": 40, "max": 200},
    ],
    "objectives": [{"name": "net_profit"}, {"name": "max_drawdown"}],
    "algorithm": {"name": "nsga2", "nsga2": {"populationSize": 8, "generations": 2}},
}
#: Two batches of eight evaluations, each in two shards of four.
DISTRIBUTED = {**SINGLE, "execution": {"mode": "distributed", "shardSize": 4, "parallelism": 2}}
WALK_FORWARD = {**DISTRIBUTED, "walkForward": {"train": "1000h", "test": "500h"}}
FORECAST: dict[str, Any] = {
    "data": {"source": "synthetic:gbm?bars=600&freq=1h&seed=7"},
    "fromFeatureAnalysis": "features",
    "sequenceLength": 20,
    "horizon": 5,
}


def make_run(spec: dict[str, Any], kind: str = "OptimizationRun", generation: int = 1) -> Run:
    return Run(kind, "rsi", "ns", "uid-1", generation, revision(spec), bool(spec.get("suspend")))


def snapshot(
    spec: dict[str, Any],
    status: dict[str, Any] | None = None,
    jobs: list[JobView] = (),  # type: ignore[assignment]
    results: StoredResults | None = None,
    *,
    kind: str = "OptimizationRun",
    generation: int = 1,
    analysis: dict[str, Any] | None = None,
) -> Snapshot:
    return Snapshot(
        make_run(spec, kind, generation),
        spec,
        status or {},
        NOW,
        {job.name: job for job in jobs},
        results or {},
        analysis,
    )


def job(
    name: str,
    spec: dict[str, Any],
    outcome: JobOutcome = JobOutcome.RUNNING,
    **fields: Any,
) -> JobView:
    batch = re.search(r"-b(\d+)$", name)
    if batch is not None:  # a batch Job of DISTRIBUTED: two shards a batch
        fields = {"completions": 2, "batch": int(batch.group(1)), **fields}
    return JobView(name, revision(spec), outcome, **{"active": 1, **fields})


def of(planned: Plan, kind: type) -> list[Any]:
    return [step for step in planned.steps if isinstance(step, kind)]


def acted(planned: Plan) -> list[Any]:
    """The plan's steps but the record of its replay's time (which no two plans share)."""
    return [step for step in planned.steps if not isinstance(step, RecordReplay)]


def reasons(planned: Plan) -> list[str]:
    return [step.reason for step in of(planned, Announce)]


def condition(planned: Plan, kind: str) -> dict[str, Any]:
    conditions = planned.status()["conditions"]
    found: dict[str, Any] = next(c for c in conditions if c["type"] == kind)
    return found


def fake_metrics(params: dict[str, float]) -> dict[str, float]:
    return {
        "net_profit": params["take_profit"] - params["stop_loss"],
        "max_drawdown": params["stop_loss"] / 10,
    }


def stored(
    spec: dict[str, Any], batches: int, *, tamper: bool = False, started: bool = False
) -> StoredResults:
    """What the pods of the first ``batches`` batches would have stored, and, if
    ``started``, the inputs of the batch after them."""
    from stratopt.api.v1alpha1 import OptimizationRunSpec

    parsed = OptimizationRunSpec.model_validate(copy.deepcopy(spec))
    rev = revision(spec)
    results: StoredResults = {}
    for number in range(batches + started):
        state = search_state(parsed, results, "rsi", rev)
        assert state.batch == number and state.pending is not None
        shards = shard(state.pending, parsed.execution.shard_size)
        if tamper:
            shards[0][0] = {**shards[0][0], "stop_loss": 21.0}
        for config_map in build_shard_configmaps("rsi", "ns", "uid-1", rev, number, shards):
            results[config_map["metadata"]["name"]] = config_map["data"]
        if number == batches:
            break
        for index, params in enumerate(shards):
            results[shard_result_name("rsi", rev, number, index)] = {
                "metrics.json": json.dumps([fake_metrics(p) for p in params])
            }
    return results


def settled(planned: Plan, before: dict[str, Any] | None = None) -> dict[str, Any]:
    """The status after the plan's writes."""
    return {**(before or {}), **planned.status()}


# -- single-pod runs ----------------------------------------------------------------------


def test_a_new_run_gets_its_job_and_is_running() -> None:
    planned = plan(snapshot(SINGLE), SETTINGS)
    ensure = of(planned, EnsureJob)
    assert len(ensure) == 1 and ensure[0].config_maps == () and ensure[0].stale == ()
    assert ensure[0].manifest["metadata"]["name"] == job_name("rsi", revision(SINGLE))
    assert reasons(planned) == ["JobCreated", "Started"]
    status = planned.status()
    assert status["phase"] == "Running" and status["revision"] == revision(SINGLE)
    assert status["observedGeneration"] == 1


def test_a_running_job_whose_status_is_written_plans_nothing() -> None:
    first = plan(snapshot(SINGLE), SETTINGS)
    running = job(job_name("rsi", revision(SINGLE)), SINGLE)
    again = plan(snapshot(SINGLE, settled(first), [running]), SETTINGS)
    assert again.steps == ()


def test_reported_progress_reaches_the_status() -> None:
    before = settled(plan(snapshot(SINGLE), SETTINGS))
    progress = {"evaluationsCompleted": 5, "evaluationsTotal": 16}
    results = {progress_name("rsi", revision(SINGLE)): {"progress.json": json.dumps(progress)}}
    running = job(job_name("rsi", revision(SINGLE)), SINGLE)
    planned = plan(snapshot(SINGLE, before, [running], results), SETTINGS)
    assert planned.status()["progress"] == progress
    assert of(planned, Announce) == []  # still Running: nothing to announce


def test_a_succeeded_job_projects_its_result_and_warnings() -> None:
    before = settled(plan(snapshot(SINGLE), SETTINGS))
    document = {"best": {"objectives": {"net_profit": 12.5}}, "warnings": ["flat front"]}
    results = {result_name("rsi", revision(SINGLE)): {"status.json": json.dumps(document)}}
    done = job(job_name("rsi", revision(SINGLE)), SINGLE, JobOutcome.SUCCEEDED)
    planned = plan(snapshot(SINGLE, before, [done], results), SETTINGS)
    status = planned.status()
    assert status["phase"] == "Succeeded" and status["best"] == document["best"]
    assert condition(planned, "Finished")["status"] == "True"
    announced = of(planned, Announce)
    assert [a.reason for a in announced] == ["Succeeded", "Degenerate"]
    assert announced[0].message == "finished; best net_profit=12.5"
    assert announced[1].warning


@pytest.mark.parametrize(
    ("results", "message"),
    [
        ({}, "the Job succeeded but wrote no result"),
        ({"status.json": "{not json"}, "the Job succeeded but its result is not a JSON object"),
        ({"other": "x"}, "the Job succeeded but wrote no result"),
    ],
    ids=["absent", "not-json", "partial"],
)
def test_a_succeeded_job_without_its_result_fails_the_run(
    results: dict[str, str], message: str
) -> None:
    before = settled(plan(snapshot(SINGLE), SETTINGS))
    stored_results = {result_name("rsi", revision(SINGLE)): results} if results else {}
    done = job(job_name("rsi", revision(SINGLE)), SINGLE, JobOutcome.SUCCEEDED)
    planned = plan(snapshot(SINGLE, before, [done], stored_results), SETTINGS)
    assert planned.status()["phase"] == "Failed"
    assert condition(planned, "Failed")["reason"] == "ResultMissing"
    assert condition(planned, "Failed")["message"] == message


@pytest.mark.parametrize(
    ("failure", "reason", "message"),
    [
        (
            WorkerFailure("InvalidData", "data.source: no such file", "spec.data.source"),
            "InvalidData",
            "data.source: no such file",
        ),
        (None, "BackoffLimitExceeded", "Job {job} failed (BackoffLimitExceeded); see its pods"),
    ],
    ids=["worker-reported", "no-report"],
)
def test_a_job_failed_after_its_retries_fails_the_run_with_the_workers_reason(
    failure: WorkerFailure | None, reason: str, message: str
) -> None:
    before = settled(plan(snapshot(SINGLE), SETTINGS))
    name = job_name("rsi", revision(SINGLE))
    failed = job(name, SINGLE, JobOutcome.FAILED, reason="BackoffLimitExceeded", failure=failure)
    planned = plan(snapshot(SINGLE, before, [failed]), SETTINGS)
    assert planned.status()["phase"] == "Failed"
    assert condition(planned, "Failed")["reason"] == reason
    assert condition(planned, "Failed")["message"] == message.format(job=name)
    warning = of(planned, Announce)[-1]
    assert (warning.reason, warning.warning) == (reason, True)
    assert of(planned, EnsureJob) == []  # never retried by the operator


# -- suspend and resume -------------------------------------------------------------------


def test_suspending_a_running_run_suspends_its_job() -> None:
    before = settled(plan(snapshot(SINGLE), SETTINGS))
    spec = {**SINGLE, "suspend": True}
    running = job(job_name("rsi", revision(spec)), spec)
    planned = plan(snapshot(spec, before, [running], generation=2), SETTINGS)
    assert of(planned, SetSuspended) == [SetSuspended(running.name, True)]
    assert planned.status()["phase"] == "Suspended"
    assert reasons(planned) == ["Suspended"]


def test_resuming_resumes_the_job_and_announces_it() -> None:
    spec = {**SINGLE, "suspend": True}
    suspended = settled(plan(snapshot(spec), SETTINGS))
    assert suspended["phase"] == "Suspended"
    held = job(job_name("rsi", revision(SINGLE)), SINGLE, suspended=True, active=0)
    planned = plan(snapshot(SINGLE, suspended, [held], generation=2), SETTINGS)
    assert of(planned, SetSuspended) == [SetSuspended(held.name, False)]
    assert planned.status()["phase"] == "Running"
    assert reasons(planned) == ["Resumed"]


def test_a_suspended_new_run_creates_its_job_suspended() -> None:
    spec = {**SINGLE, "suspend": True}
    planned = plan(snapshot(spec), SETTINGS)
    assert of(planned, EnsureJob)[0].manifest["spec"]["suspend"] is True


# -- spec changes and finished runs -------------------------------------------------------


def test_a_spec_change_restarts_the_run_and_removes_the_earlier_revisions_jobs() -> None:
    before = settled(plan(snapshot(SINGLE), SETTINGS))
    changed = {**SINGLE, "seed": 7}
    old = job(job_name("rsi", revision(SINGLE)), SINGLE)
    planned = plan(snapshot(changed, before, [old], generation=2), SETTINGS)
    assert reasons(planned)[0] == "Restarted"
    ensure = of(planned, EnsureJob)[0]
    assert ensure.stale == (old.name,)
    assert ensure.manifest["metadata"]["name"] == job_name("rsi", revision(changed))
    assert planned.status()["revision"] == revision(changed)


def test_a_finished_run_that_answers_its_spec_plans_nothing() -> None:
    status = {"phase": "Succeeded", "observedGeneration": 3, "revision": revision(SINGLE)}
    assert plan(snapshot(SINGLE, status, generation=3), SETTINGS).steps == ()


def test_a_finished_run_whose_suspend_changed_only_records_the_generation() -> None:
    status = {"phase": "Succeeded", "observedGeneration": 3, "revision": revision(SINGLE)}
    spec = {**SINGLE, "suspend": True}  # suspend is not part of the revision
    planned = plan(snapshot(spec, status, generation=4), SETTINGS)
    assert planned.steps == (SetStatus({"observedGeneration": 4, "revision": revision(spec)}),)


def test_a_finished_run_whose_spec_changed_starts_over() -> None:
    status = {"phase": "Failed", "observedGeneration": 3, "revision": revision(SINGLE)}
    changed = {**SINGLE, "seed": 7}
    planned = plan(snapshot(changed, status, generation=4), SETTINGS)
    assert reasons(planned)[:2] == ["Restarted", "JobCreated"]
    assert planned.status()["phase"] == "Running"


# -- bad input ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("change", "reason", "field"),
    [
        (lambda s: s["objectives"].append({"name": "no_such_metric"}), None, "objectives"),
        (
            lambda s: s["backtest"]["data"].update(source="data/eurusd.csv"),
            "InvalidSpec",
            "spec.backtest.data.source",
        ),
    ],
    ids=["unknown-objective", "relative-path"],
)
def test_bad_input_fails_the_run_naming_the_field(
    change: Callable[[dict[str, Any]], None], reason: str | None, field: str
) -> None:
    spec = copy.deepcopy(SINGLE)
    change(spec)
    planned = plan(snapshot(spec), SETTINGS)
    assert planned.status()["phase"] == "Failed"
    failed = condition(planned, "Failed")
    assert field in failed["message"]
    if reason is not None:
        assert failed["reason"] == reason
    assert of(planned, EnsureJob) == []


# -- stalled Jobs -------------------------------------------------------------------------


def test_an_unschedulable_pod_stalls_the_run_until_it_fits() -> None:
    before = settled(plan(snapshot(SINGLE), SETTINGS))
    name = job_name("rsi", revision(SINGLE))
    stuck = job(name, SINGLE, unschedulable="no node can take the pod: 0/1 nodes")
    planned = plan(snapshot(SINGLE, before, [stuck]), SETTINGS)
    assert planned.status()["phase"] == "Pending"
    assert condition(planned, "Stalled")["reason"] == "Unschedulable"
    fits = plan(snapshot(SINGLE, settled(planned, before), [job(name, SINGLE)]), SETTINGS)
    assert fits.status()["phase"] == "Running"
    assert condition(fits, "Stalled")["status"] == "False"


def test_pods_refused_by_the_api_stall_the_run() -> None:
    before = settled(plan(snapshot(SINGLE), SETTINGS))
    name = job_name("rsi", revision(SINGLE))
    refused = replace(job(name, SINGLE), active=0, refused="the Job cannot create its pods: quota")
    planned = plan(snapshot(SINGLE, before, [refused]), SETTINGS)
    assert condition(planned, "Stalled")["reason"] == "FailedCreate"
    assert condition(planned, "Stalled")["message"] == "the Job cannot create its pods: quota"


# -- a ForecastRun waits for its FeatureAnalysis ------------------------------------------


@pytest.mark.parametrize(
    ("analysis", "waiting"),
    [
        (None, "waiting for FeatureAnalysis 'features', which does not exist yet"),
        ({"phase": "Running"}, "waiting for FeatureAnalysis 'features' to succeed (it is Running)"),
        ({"phase": "Succeeded"}, None),
    ],
    ids=["absent", "running", "succeeded"],
)
def test_a_forecast_waits_for_its_feature_analysis(
    analysis: dict[str, Any] | None, waiting: str | None
) -> None:
    planned = plan(snapshot(FORECAST, kind="ForecastRun", analysis=analysis), SETTINGS)
    if waiting is None:
        assert len(of(planned, EnsureJob)) == 1
        return
    assert of(planned, EnsureJob) == []
    assert planned.status()["phase"] == "Pending"
    assert condition(planned, "Reconciling")["message"] == waiting


# -- distributed searches -----------------------------------------------------------------

REV = revision(DISTRIBUTED)


def test_a_distributed_run_starts_with_the_first_batch_and_its_shard_inputs() -> None:
    planned = plan(snapshot(DISTRIBUTED), SETTINGS)
    ensure = of(planned, EnsureJob)[0]
    assert ensure.manifest["metadata"]["name"] == batch_job_name("rsi", REV, 0)
    assert ensure.manifest["spec"]["completions"] == 2
    shards = [json.loads(v) for cm in ensure.config_maps for v in cm["data"].values()]
    assert [len(s) for s in shards] == [4, 4]
    assert reasons(planned) == ["BatchStarted", "Started"]
    assert planned.status()["progress"]["evaluationsCompleted"] == 0
    assert planned.search is not None and planned.search.batch == 0


def test_a_finished_batch_is_counted_timed_and_followed_by_the_next() -> None:
    before = settled(plan(snapshot(DISTRIBUTED), SETTINGS))
    first = job(batch_job_name("rsi", REV, 0), DISTRIBUTED, JobOutcome.SUCCEEDED, seconds=4.5)
    planned = plan(snapshot(DISTRIBUTED, before, [first], stored(DISTRIBUTED, 1)), SETTINGS)
    assert of(planned, CountEvaluations) == [CountEvaluations(8)]
    assert of(planned, RecordBatch) == [RecordBatch(4.5)]
    ensure = of(planned, EnsureJob)[0]
    assert ensure.manifest["metadata"]["name"] == batch_job_name("rsi", REV, 1)
    assert planned.status()["progress"]["evaluationsCompleted"] == 8


def test_a_search_with_every_batch_stored_runs_its_finalize_job() -> None:
    jobs = [job(batch_job_name("rsi", REV, n), DISTRIBUTED, JobOutcome.SUCCEEDED) for n in range(2)]
    planned = plan(snapshot(DISTRIBUTED, {}, jobs, stored(DISTRIBUTED, 2)), SETTINGS)
    ensure = of(planned, EnsureJob)[0]
    assert ensure.manifest["metadata"]["name"] == finalize_job_name("rsi", REV)
    assert planned.search is not None and planned.search.pending is None


def test_the_finalize_jobs_result_finishes_the_run() -> None:
    results = stored(DISTRIBUTED, 2)
    results[result_name("rsi", REV)] = {"status.json": json.dumps({"best": {}})}
    done = job(finalize_job_name("rsi", REV), DISTRIBUTED, JobOutcome.SUCCEEDED)
    before = {"phase": "Running", "revision": REV}
    planned = plan(snapshot(DISTRIBUTED, before, [done], results), SETTINGS)
    assert planned.status()["phase"] == "Succeeded"


def test_a_succeeded_search_keeps_only_its_result_and_evaluations() -> None:
    """Its shard inputs and results, and its batch Jobs, go before its status is written;
    its result and evaluations ConfigMaps and its finalize Job stay."""
    results = stored(DISTRIBUTED, 2)
    results[result_name("rsi", REV)] = {"status.json": json.dumps({"best": {}})}
    results[evaluations_name("rsi", REV)] = {"evaluations.json.gz": ""}
    jobs = [job(batch_job_name("rsi", REV, n), DISTRIBUTED, JobOutcome.SUCCEEDED) for n in (0, 1)]
    jobs.append(job(finalize_job_name("rsi", REV), DISTRIBUTED, JobOutcome.SUCCEEDED))
    planned = plan(snapshot(DISTRIBUTED, {"phase": "Running"}, jobs, results), SETTINGS)
    [compact] = of(planned, Compact)
    assert compact.jobs == tuple(sorted(batch_job_name("rsi", REV, n) for n in (0, 1)))
    assert set(compact.config_maps) == set(results) - {
        result_name("rsi", REV),
        evaluations_name("rsi", REV),
    }
    assert len(compact.config_maps) == 2 + 4  # an input and two results a batch
    kinds = [type(step) for step in planned.steps]
    assert kinds.index(Compact) < kinds.index(SetStatus)
    assert planned.status()["phase"] == "Succeeded"
    assert of(planned, RemoveJobs) == [] and of(planned, EnsureJob) == []


def test_a_stored_result_finishes_the_run_whatever_its_jobs_say() -> None:
    """Compacted, then restarted before the status was written: the result alone is
    enough, and nothing runs again."""
    results = {result_name("rsi", REV): {"status.json": json.dumps({"best": {}})}}
    planned = plan(snapshot(DISTRIBUTED, {"phase": "Running"}, [], results), SETTINGS)
    assert planned.status()["phase"] == "Succeeded"
    assert of(planned, EnsureJob) == [] and of(planned, Compact) == []


def test_a_succeeded_single_run_drops_its_progress_and_keeps_its_job() -> None:
    rev = revision(SINGLE)
    results = {
        result_name("rsi", rev): {"status.json": json.dumps({"best": {}})},
        progress_name("rsi", rev): {"progress.json": "{}"},
    }
    done = job(job_name("rsi", rev), SINGLE, JobOutcome.SUCCEEDED)
    planned = plan(snapshot(SINGLE, {"phase": "Running"}, [done], results), SETTINGS)
    assert of(planned, Compact) == [Compact((progress_name("rsi", rev),), ())]


@pytest.mark.parametrize("lost", ["missing", "partial"])
def test_a_batch_whose_results_are_lost_runs_again_then_fails_the_run(lost: str) -> None:
    results = stored(DISTRIBUTED, 2)
    name = shard_result_name("rsi", REV, 1, 1)
    if lost == "missing":
        del results[name]
    else:
        results[name] = {"other.json": "[]"}
    b1 = batch_job_name("rsi", REV, 1)
    jobs = [
        job(batch_job_name("rsi", REV, 0), DISTRIBUTED, JobOutcome.SUCCEEDED),
        job(b1, DISTRIBUTED, JobOutcome.SUCCEEDED),
    ]
    planned = plan(snapshot(DISTRIBUTED, {"phase": "Running"}, jobs, results), SETTINGS)
    assert planned.status()["phase"] == "Running"
    [ensure] = of(planned, EnsureJob)
    assert ensure.stale == (b1,) and ensure.manifest["metadata"]["name"] == b1
    assert ensure.manifest["metadata"]["labels"]["stratopt.io/rerun"] == "1"
    assert ensure.manifest["spec"]["completions"] == 2
    [rerun] = [step for step in of(planned, Announce) if step.reason == "BatchRerun"]
    assert rerun.warning and "batch 1, shards 1," in rerun.message
    # Lost again after the last rerun: the run fails, saying where.
    jobs[1] = replace(jobs[1], reruns=MAX_RERUNS)
    planned = plan(snapshot(DISTRIBUTED, {"phase": "Running"}, jobs, results), SETTINGS)
    failed = condition(planned, "Failed")
    assert failed["reason"] == "ResultMissing"
    assert "batch 1, shards 1," in failed["message"]
    assert of(planned, EnsureJob) == []


def test_a_result_lost_under_the_finalize_job_reruns_its_batch_then_finalizes_again() -> None:
    """The finalize Job failed reading a batch's result that was deleted after the
    search had replayed it: the batch runs again and the failed finalize Job goes, so
    that a new one reads the full results."""
    results = stored(DISTRIBUTED, 2)
    b0, b1 = (batch_job_name("rsi", REV, n) for n in range(2))
    jobs = [job(b, DISTRIBUTED, JobOutcome.SUCCEEDED) for b in (b0, b1)]
    replayed = plan(snapshot(DISTRIBUTED, {"phase": "Running"}, jobs, results), SETTINGS)
    assert replayed.search is not None and replayed.search.pending is None
    del results[shard_result_name("rsi", REV, 0, 0)]
    failed = job(
        finalize_job_name("rsi", REV),
        DISTRIBUTED,
        JobOutcome.FAILED,
        failure=WorkerFailure("ResultMissing", "the results of batch 0 are missing"),
    )
    view = snapshot(DISTRIBUTED, {"phase": "Running"}, [*jobs, failed], results)
    planned = plan(view, SETTINGS, replayed.search)
    assert planned.status()["phase"] == "Running"
    assert of(planned, RemoveJobs) == [RemoveJobs((finalize_job_name("rsi", REV),))]
    [ensure] = of(planned, EnsureJob)
    assert ensure.manifest["metadata"]["name"] == b0 and ensure.stale == (b0,)


def test_a_batch_job_still_running_with_partial_results_waits() -> None:
    results = stored(DISTRIBUTED, 2)
    del results[shard_result_name("rsi", REV, 1, 1)]
    jobs = [
        job(batch_job_name("rsi", REV, 0), DISTRIBUTED, JobOutcome.SUCCEEDED),
        job(batch_job_name("rsi", REV, 1), DISTRIBUTED),
    ]
    planned = plan(snapshot(DISTRIBUTED, {}, jobs, results), SETTINGS)
    assert planned.status()["phase"] == "Running"
    assert planned.status()["progress"]["evaluationsCompleted"] == 8


def test_stored_inputs_that_differ_from_what_the_search_asks_fail_the_run() -> None:
    jobs = [job(batch_job_name("rsi", REV, 0), DISTRIBUTED, JobOutcome.SUCCEEDED)]
    results = stored(DISTRIBUTED, 1, tamper=True)
    planned = plan(snapshot(DISTRIBUTED, {"phase": "Running"}, jobs, results), SETTINGS)
    failed = condition(planned, "Failed")
    assert failed["reason"] == "ReplayMismatch"
    assert "batch 0, evaluation 0" in failed["message"]
    assert "'stop_loss': 21.0" in failed["message"]
    assert of(planned, EnsureJob) == [] and planned.search is None


def test_resuming_a_replay_plans_the_same_as_replaying_from_the_start() -> None:
    first = plan(snapshot(DISTRIBUTED), SETTINGS)
    before = settled(first)
    done = [job(batch_job_name("rsi", REV, 0), DISTRIBUTED, JobOutcome.SUCCEEDED)]
    view = snapshot(DISTRIBUTED, before, done, stored(DISTRIBUTED, 1))
    resumed = plan(view, SETTINGS, first.search)
    fresh = plan(view, SETTINGS)
    assert acted(resumed) == acted(fresh)
    # Only what was replayed differs: the fresh replay told batch 0, the resumed one
    # carried on from the state that had told it nothing yet.
    assert [r.batches for r in of(fresh, RecordReplay)] == [1]
    assert [r.batches for r in of(resumed, RecordReplay)] == [1]
    again = plan(view, SETTINGS, resumed.search)
    assert [r.batches for r in of(again, RecordReplay)] == [0]  # nothing new to tell


# -- batches started ahead ---------------------------------------------------------------

B0, B1 = batch_job_name("rsi", REV, 0), batch_job_name("rsi", REV, 1)


def _batch_inputs(ensure: EnsureJob) -> list[list[dict[str, float]]]:
    shards = {k: json.loads(v) for cm in ensure.config_maps for k, v in cm["data"].items()}
    return [shards[f"shard-{i}"] for i in range(len(shards))]


def test_batch_1s_job_starts_once_every_container_of_batch_0_has_started() -> None:
    before = settled(plan(snapshot(DISTRIBUTED), SETTINGS))
    results = stored(DISTRIBUTED, 0, started=True)
    for short in (
        job(B0, DISTRIBUTED, created=1),
        job(B0, DISTRIBUTED, created=2, unschedulable="0/1 nodes are available"),
        job(B0, DISTRIBUTED, created=2),  # its containers not started: their start-up first
        job(B0, DISTRIBUTED, created=2, running=1),
    ):
        waiting = plan(snapshot(DISTRIBUTED, before, [short], results), SETTINGS)
        assert of(waiting, EnsureJob) == []  # its pods would compete with batch 0's

    starting = job(B0, DISTRIBUTED, created=2, running=2, per_input=8)
    planned = plan(snapshot(DISTRIBUTED, before, [starting], results), SETTINGS)
    (ahead,) = of(planned, EnsureJob)
    assert ahead.manifest["metadata"]["name"] == B1
    assert ahead.manifest["spec"]["completions"] == 2
    assert ahead.config_maps == ()  # its inputs wait for batch 0's results
    inputs = [json.loads(v) for v in results[shard_input_name("rsi", REV, 0, 0)].values()]
    per_input = str(shards_per_input(inputs) // 2)  # room for a next batch a little larger
    assert ahead.manifest["metadata"]["labels"]["stratopt.io/shards-per-input"] == per_input
    assert reasons(planned) == []


#: Four batches of eight evaluations, each in two shards of four.
DEEP = {
    **DISTRIBUTED,
    "algorithm": {"name": "nsga2", "nsga2": {"populationSize": 8, "generations": 4}},
}
DEEP_REV = revision(DEEP)


def deep_jobs(*created: int) -> list[JobView]:
    """DEEP's batch Jobs from batch 0 on, with that many pods created each; batch 0's
    running, the others' (started ahead) not yet."""
    return [
        job(batch_job_name("rsi", DEEP_REV, n), DEEP, created=count, running=count * (n == 0))
        for n, count in enumerate(created)
    ]


@pytest.mark.parametrize(
    ("ahead", "created", "expected"),
    [
        (2, (2,), 1),  # the next batch first
        (2, (2, 2), 2),  # then the one after it, once the next one's pods exist
        (2, (2, 1), None),  # not while the next one's pods are being created
        (2, (2, 2, 2), None),  # no more than two ahead
        (1, (2, 2), None),
        (0, (2,), None),
    ],
)
def test_jobs_start_as_many_batches_ahead_as_the_settings_say(
    ahead: int, created: tuple[int, ...], expected: int | None
) -> None:
    settings = JobSettings(batches_ahead=ahead)
    results = stored(DEEP, 0, started=True)
    planned = plan(snapshot(DEEP, {}, deep_jobs(*created), results), settings)
    started = [e.manifest["metadata"]["name"] for e in of(planned, EnsureJob)]
    assert started == ([] if expected is None else [batch_job_name("rsi", DEEP_REV, expected)])


def test_a_batch_started_ahead_does_not_wait_for_its_containers_to_start_the_next() -> None:
    # Batch 1 runs on pods started ahead whose containers are still starting: waiting for
    # them would let a short generation outrun the pipeline.
    results = stored(DEEP, 1, started=True)
    jobs = [job(batch_job_name("rsi", DEEP_REV, n), DEEP, created=2) for n in (1, 2)]
    planned = plan(snapshot(DEEP, {}, jobs, results), JobSettings(batches_ahead=2))
    started = [e.manifest["metadata"]["name"] for e in of(planned, EnsureJob)]
    assert started == [batch_job_name("rsi", DEEP_REV, 3)]


def test_no_job_starts_ahead_of_a_batch_past_the_budget() -> None:
    results = stored(DEEP, 2, started=True)  # batch 2 of 4 runs: only batch 3 is left
    jobs = [job(batch_job_name("rsi", DEEP_REV, n), DEEP, created=2, running=2) for n in (2, 3)]
    planned = plan(snapshot(DEEP, {}, jobs, results), JobSettings(batches_ahead=2))
    assert of(planned, EnsureJob) == []


def test_a_job_started_ahead_that_failed_fails_the_run() -> None:
    failure = WorkerFailure("ResultMissing", "batch 1: the input of shard 0 is missing")
    failed = job(batch_job_name("rsi", DEEP_REV, 1), DEEP, JobOutcome.FAILED, failure=failure)
    jobs = [*deep_jobs(2), failed]
    results = stored(DEEP, 0, started=True)
    planned = plan(snapshot(DEEP, {"phase": "Running"}, jobs, results), SETTINGS)
    assert planned.status()["phase"] == "Failed"
    assert condition(planned, "Failed")["message"] == failure.message


def test_every_job_waiting_for_a_batch_that_never_comes_is_removed() -> None:
    results = stored(DEEP, 4)
    jobs = [job(batch_job_name("rsi", DEEP_REV, n), DEEP, JobOutcome.SUCCEEDED) for n in range(4)]
    jobs += [job(batch_job_name("rsi", DEEP_REV, n), DEEP, created=2) for n in (4, 5)]
    planned = plan(snapshot(DEEP, {}, jobs, results), SETTINGS)
    waiting = tuple(batch_job_name("rsi", DEEP_REV, n) for n in (4, 5))
    assert of(planned, RemoveJobs) == [RemoveJobs(waiting)]


@pytest.mark.parametrize("why", ["suspended", "last batch"])
def test_no_job_starts_ahead_of_a_batch_that_will_not_run_now(why: str) -> None:
    spec = {**DISTRIBUTED, "suspend": True} if why == "suspended" else DISTRIBUTED
    batch = 0 if why == "suspended" else 1
    rev = revision(spec)
    running = job(
        batch_job_name("rsi", rev, batch),
        spec,
        created=2,
        running=2,
        suspended=spec is not DISTRIBUTED,
    )
    planned = plan(snapshot(spec, {}, [running], stored(spec, batch, started=True)), SETTINGS)
    assert of(planned, EnsureJob) == []


def test_a_batch_is_given_to_the_pods_started_ahead_for_it() -> None:
    done = job(B0, DISTRIBUTED, JobOutcome.SUCCEEDED, seconds=3.0)
    waiting = job(B1, DISTRIBUTED, created=2, per_input=4)
    planned = plan(snapshot(DISTRIBUTED, {}, [done, waiting], stored(DISTRIBUTED, 1)), SETTINGS)
    (ensure,) = of(planned, EnsureJob)
    assert ensure.manifest["metadata"]["name"] == B1 and ensure.stale == ()
    assert [len(s) for s in _batch_inputs(ensure)] == [4, 4]
    assert "started ahead" in of(planned, Announce)[0].message
    assert of(planned, RecordBatch) == [RecordBatch(3.0)]
    again = plan(
        snapshot(
            DISTRIBUTED, settled(planned), [done, waiting], stored(DISTRIBUTED, 1, started=True)
        ),
        SETTINGS,
    )
    assert of(again, EnsureJob) == [] and reasons(again) == []


def test_a_batch_smaller_than_the_pods_waiting_for_it_pads_their_shards() -> None:
    done = job(B0, DISTRIBUTED, JobOutcome.SUCCEEDED)
    waiting = job(B1, DISTRIBUTED, completions=3)
    planned = plan(snapshot(DISTRIBUTED, {}, [done, waiting], stored(DISTRIBUTED, 1)), SETTINGS)
    (ensure,) = of(planned, EnsureJob)
    assert [len(s) for s in _batch_inputs(ensure)] == [4, 4, 0]
    assert ensure.manifest["spec"]["completions"] == 3


def test_a_batch_larger_than_the_pods_waiting_for_it_replaces_their_job() -> None:
    done = job(B0, DISTRIBUTED, JobOutcome.SUCCEEDED)
    waiting = job(B1, DISTRIBUTED, completions=1)
    planned = plan(snapshot(DISTRIBUTED, {}, [done, waiting], stored(DISTRIBUTED, 1)), SETTINGS)
    (ensure,) = of(planned, EnsureJob)
    assert ensure.stale == (B1,)
    assert ensure.manifest["spec"]["completions"] == 2
    assert [len(s) for s in _batch_inputs(ensure)] == [4, 4]


def test_written_inputs_without_their_job_get_a_job_that_reads_them() -> None:
    done = job(B0, DISTRIBUTED, JobOutcome.SUCCEEDED)
    results = stored(DISTRIBUTED, 1, started=True)
    planned = plan(snapshot(DISTRIBUTED, {}, [done], results), SETTINGS)
    (ensure,) = of(planned, EnsureJob)
    assert ensure.manifest["metadata"]["name"] == B1 and ensure.config_maps == ()
    assert ensure.manifest["spec"]["completions"] == 2


def test_a_job_started_ahead_of_a_batch_that_never_comes_is_removed() -> None:
    jobs = [job(batch_job_name("rsi", REV, n), DISTRIBUTED, JobOutcome.SUCCEEDED) for n in range(2)]
    unneeded = batch_job_name("rsi", REV, 2)
    jobs.append(job(unneeded, DISTRIBUTED))
    planned = plan(snapshot(DISTRIBUTED, {}, jobs, stored(DISTRIBUTED, 2)), SETTINGS)
    assert of(planned, RemoveJobs) == [RemoveJobs((unneeded,))]
    assert of(planned, EnsureJob)[0].manifest["metadata"]["name"] == finalize_job_name("rsi", REV)


def test_a_failed_run_keeps_no_pods_waiting_for_its_next_batch() -> None:
    failed = job(B0, DISTRIBUTED, JobOutcome.FAILED, reason="BackoffLimitExceeded")
    waiting = job(B1, DISTRIBUTED)
    results = stored(DISTRIBUTED, 0, started=True)
    planned = plan(
        snapshot(DISTRIBUTED, {"phase": "Running"}, [failed, waiting], results), SETTINGS
    )
    assert planned.status()["phase"] == "Failed"
    assert of(planned, RemoveJobs) == [RemoveJobs((B1,))]


def test_suspending_suspends_the_job_started_ahead_too() -> None:
    spec = {**DISTRIBUTED, "suspend": True}
    rev = revision(spec)
    jobs = [
        job(batch_job_name("rsi", rev, 0), spec, created=2),
        job(batch_job_name("rsi", rev, 1), spec),
    ]
    planned = plan(snapshot(spec, {}, jobs, stored(spec, 0, started=True)), SETTINGS)
    assert of(planned, SetSuspended) == [
        SetSuspended(batch_job_name("rsi", rev, n), True) for n in range(2)
    ]


# -- walk-forward folds -------------------------------------------------------------------

WF = revision(WALK_FORWARD)


def _searched() -> tuple[list[JobView], StoredResults]:
    jobs = [job(batch_job_name("rsi", WF, n), WALK_FORWARD, JobOutcome.SUCCEEDED) for n in range(2)]
    return jobs, stored(WALK_FORWARD, 2)


def test_folds_without_their_plan_fail_the_run() -> None:
    jobs, results = _searched()
    planned = plan(snapshot(WALK_FORWARD, {}, jobs, results), SETTINGS)
    assert condition(planned, "Failed")["reason"] == "ResultMissing"


def test_the_folds_job_follows_the_search() -> None:
    jobs, results = _searched()
    results[plan_name("rsi", WF)] = {"folds": "3"}
    planned = plan(snapshot(WALK_FORWARD, {}, jobs, results), SETTINGS)
    ensure = of(planned, EnsureJob)[0]
    assert ensure.manifest["metadata"]["name"] == folds_job_name("rsi", WF)
    assert ensure.manifest["spec"]["completions"] == 3
    assert "FoldsStarted" in reasons(planned)


def test_a_folds_job_that_succeeded_without_a_fold_result_fails_the_run() -> None:
    jobs, results = _searched()
    results[plan_name("rsi", WF)] = {"folds": "3"}
    results[fold_result_name("rsi", WF, 0)] = {"fold.json": "{}"}
    jobs.append(job(folds_job_name("rsi", WF), WALK_FORWARD, JobOutcome.SUCCEEDED))
    planned = plan(snapshot(WALK_FORWARD, {}, jobs, results), SETTINGS)
    failed = condition(planned, "Failed")
    assert failed["reason"] == "ResultMissing" and "folds 1, 2 " in failed["message"]


def test_every_fold_stored_runs_the_finalize_job() -> None:
    jobs, results = _searched()
    results[plan_name("rsi", WF)] = {"folds": "2"}
    for fold in range(2):
        results[fold_result_name("rsi", WF, fold)] = {"fold.json": "{}"}
    planned = plan(snapshot(WALK_FORWARD, {}, jobs, results), SETTINGS)
    ensure = of(planned, EnsureJob)[0]
    assert ensure.manifest["metadata"]["name"] == finalize_job_name("rsi", WF)


# -- a restart at each stage --------------------------------------------------------------


def _stages() -> list[tuple[str, dict[str, Any], list[JobView], StoredResults]]:
    single = [job(job_name("rsi", revision(SINGLE)), SINGLE)]
    batch = [
        job(batch_job_name("rsi", REV, 0), DISTRIBUTED, JobOutcome.SUCCEEDED),
        job(batch_job_name("rsi", REV, 1), DISTRIBUTED),
    ]
    searched, results = _searched()
    results[plan_name("rsi", WF)] = {"folds": "2"}
    folds = [*searched, job(folds_job_name("rsi", WF), WALK_FORWARD)]
    finalize = [
        *[job(batch_job_name("rsi", REV, n), DISTRIBUTED, JobOutcome.SUCCEEDED) for n in range(2)],
        job(finalize_job_name("rsi", REV), DISTRIBUTED),
    ]
    return [
        ("single", SINGLE, single, {}),
        ("batch", DISTRIBUTED, batch, stored(DISTRIBUTED, 1, started=True)),
        ("folds", WALK_FORWARD, folds, results),
        ("finalize", DISTRIBUTED, finalize, stored(DISTRIBUTED, 2)),
    ]


@pytest.mark.parametrize(
    ("spec", "jobs", "results"), [s[1:] for s in _stages()], ids=[s[0] for s in _stages()]
)
def test_a_restarted_operator_carries_on_without_recreating_or_reannouncing(
    spec: dict[str, Any], jobs: list[JobView], results: StoredResults
) -> None:
    """Nothing in memory: the plan from what exists creates nothing that exists, and,
    once the status is written, plans nothing more."""
    first = plan(snapshot(spec, {}, jobs, results), SETTINGS)
    assert of(first, EnsureJob) == []
    assert first.status()["phase"] == "Running"
    again = plan(snapshot(spec, settled(first), jobs, results), SETTINGS)
    assert acted(again) == []


# -- reading Jobs -------------------------------------------------------------------------


def test_job_view_reads_outcome_suspension_and_duration() -> None:
    served = {
        "metadata": {
            "name": "rsi-b0",
            "labels": {
                "stratopt.io/revision": "abc",
                "stratopt.io/batch": "4",
                "stratopt.io/shards-per-input": "16",
            },
        },
        "spec": {"suspend": False, "completions": 3},
        "status": {
            "active": 0,
            "ready": 1,
            "succeeded": 1,
            "startTime": "2026-01-01T00:00:00Z",
            "completionTime": "2026-01-01T00:00:07Z",
            "conditions": [{"type": "Complete", "status": "True"}],
        },
    }
    view = job_view(served)
    assert (view.name, view.revision, view.outcome) == ("rsi-b0", "abc", JobOutcome.SUCCEEDED)
    assert view.seconds == 7.0 and not view.suspended
    assert (view.completions, view.created, view.batch, view.per_input) == (3, 1, 4, 16)
    assert view.running == 2  # one ready, one done
    failed = job_view(
        {
            "metadata": {"name": "x", "labels": {}},
            "status": {
                "active": 1,
                "conditions": [
                    {"type": "Failed", "status": "True", "reason": "BackoffLimitExceeded"}
                ],
            },
        }
    )
    assert (failed.outcome, failed.reason, failed.seconds) == (
        JobOutcome.FAILED,
        "BackoffLimitExceeded",
        None,
    )
