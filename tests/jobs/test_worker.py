"""The worker's steps against an in-memory store, without a cluster: what each step reads,
what it writes, and that a distributed search stepped through its pods ends with the
status of the same search run in one process."""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

import pytest
import yaml

from stratopt.api.documents import FIELD
from stratopt.api.v1alpha1 import OptimizationRunSpec
from stratopt.jobs._cluster import ApiError
from stratopt.jobs.worker import (
    PROGRESS_SECONDS,
    ProgressReport,
    Task,
    Worker,
    WorkerStep,
    parse_task,
    work,
)
from stratopt.operator.manifests import build_shard_configmaps
from stratopt.optimize.results import BatchProgress
from stratopt.runtime.distributed import search_state
from stratopt.runtime.protocol import revision, run_selector
from stratopt.runtime.stored import (
    evaluations_name,
    fold_result_name,
    plan_name,
    progress_name,
    result_name,
    shard,
    shard_input_name,
    shard_result_name,
    shards_per_input,
    stored_evaluations,
)
from tests.conftest import EXAMPLES

NAMESPACE = "research"


class MemoryStore:
    """Resources and ConfigMaps by name, answering as the API server does."""

    def __init__(self) -> None:
        self.resources: dict[tuple[str, str], dict[str, Any]] = {}
        self.config_maps: dict[str, dict[str, Any]] = {}
        self.writes: list[str] = []
        #: ConfigMaps written (as by the operator) while a pod waits for them.
        self.arriving: dict[str, dict[str, Any]] = {}
        self.waits: list[tuple[str, float]] = []

    def add(self, kind: str, name: str, spec: dict[str, Any], **extra: Any) -> Task:
        self.resources[(kind, name)] = {
            "kind": kind,
            "metadata": {"name": name, "namespace": NAMESPACE, "uid": f"uid-{name}"},
            "spec": spec,
            **extra,
        }
        return Task(WorkerStep.RUN, kind, name, NAMESPACE, revision(spec))

    def resource(self, kind: str, namespace: str, name: str) -> dict[str, Any]:
        assert namespace == NAMESPACE
        if (kind, name) not in self.resources:
            raise ApiError(404, f"{kind} {name} not found")
        return self.resources[(kind, name)]

    def config_map_data(self, namespace: str, name: str) -> dict[str, str]:
        if name not in self.config_maps:
            raise ApiError(404, f"configmaps {name!r} not found")
        return dict(self.config_maps[name]["data"])

    def await_config_map(self, namespace: str, name: str, seconds: float) -> dict[str, str] | None:
        self.waits.append((name, seconds))
        if name not in self.config_maps and seconds > 0 and name in self.arriving:
            self.config_maps[name] = self.arriving.pop(name)
        return dict(self.config_maps[name]["data"]) if name in self.config_maps else None

    def config_maps_data(self, namespace: str, selector: str) -> dict[str, dict[str, str]]:
        wanted = dict(term.split("=", 1) for term in selector.split(","))
        return {
            name: dict(cm["data"])
            for name, cm in self.config_maps.items()
            if wanted.items() <= cm["metadata"].get("labels", {}).items()
        }

    def store_config_map(self, namespace: str, configmap: dict[str, Any]) -> None:
        assert namespace == NAMESPACE == configmap["metadata"]["namespace"]
        self.config_maps[configmap["metadata"]["name"]] = configmap
        self.writes.append(configmap["metadata"]["name"])


def _search(example: str = "optimization-random.yaml", **spec: Any) -> dict[str, Any]:
    document = yaml.safe_load((EXAMPLES / example).read_text())["spec"]
    document["backtest"]["data"]["source"] = "synthetic:gbm?bars=3000&freq=1h&seed=7"
    return {**document, **spec}


def _status(store: MemoryStore, task: Task) -> dict[str, Any]:
    found: dict[str, Any] = json.loads(
        store.config_maps[result_name(task.name, task.revision)]["data"]["status.json"]
    )
    return found


def _without_timing(status: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in status.items() if key not in ("durationSeconds",)}


def _assert_same_as_here(store: MemoryStore, task: Task, spec: dict[str, Any]) -> None:
    """The stored status is the same run's here, and every evaluation of it is kept."""
    from stratopt.runtime.optimization import run_optimization

    here = run_optimization(OptimizationRunSpec.model_validate(spec))
    status = _status(store, task)
    count = len(here.evaluations)
    assert status.pop("evaluationsKept") == count
    expected = here.status.model_dump(mode="json", by_alias=True, exclude_none=True)
    assert _without_timing(status) == _without_timing(expected)
    data = store.config_maps_data(NAMESPACE, run_selector(task.name, task.revision))
    kept = stored_evaluations(data, task.name, task.revision)
    assert kept == (
        [{**e.parameters, **e.metrics} for e in here.evaluations],
        list(range(count)),
        count,
    )


def test_a_run_step_stores_the_status_of_the_same_run_here_owned_and_labelled() -> None:
    store = MemoryStore()
    spec = _search(algorithm={"name": "random", "random": {"samples": 12}})
    task = store.add("OptimizationRun", "rsi", spec)

    assert work(store, task) is None

    result = store.config_maps[result_name("rsi", task.revision)]
    assert result["metadata"]["ownerReferences"][0]["uid"] == "uid-rsi"
    assert result["metadata"]["ownerReferences"][0]["kind"] == "OptimizationRun"
    assert set(store.config_maps_data(NAMESPACE, run_selector("rsi", task.revision))) >= {
        result_name("rsi", task.revision)
    }
    _assert_same_as_here(store, task, spec)
    progress = json.loads(
        store.config_maps[progress_name("rsi", task.revision)]["data"]["progress.json"]
    )
    assert progress["evaluationsCompleted"] >= 1


def test_a_spec_changed_since_the_job_was_made_writes_nothing() -> None:
    store = MemoryStore()
    task = store.add("OptimizationRun", "rsi", _search())
    stale = Task(WorkerStep.RUN, task.kind, task.name, NAMESPACE, "0123456789")

    assert work(store, stale) is None
    assert store.writes == []


def test_bad_input_is_reported_with_its_field_and_writes_no_result() -> None:
    store = MemoryStore()
    spec = _search()
    spec["backtest"]["data"]["source"] = "/nonexistent/bars.csv"
    task = store.add("OptimizationRun", "rsi", spec)

    failure = work(store, task)

    assert failure is not None
    assert failure.reason == "InvalidData"
    assert failure.field == "spec.backtest.data.source"
    assert "/nonexistent/bars.csv" in failure.message
    assert result_name("rsi", task.revision) not in store.config_maps


def _distributed(store: MemoryStore, name: str, spec: dict[str, Any]) -> Task:
    """Step a distributed search through its pods as the operator would: store each
    batch's inputs, evaluate every shard, then finalize."""
    task = store.add("OptimizationRun", name, spec)
    model = OptimizationRunSpec.model_validate(spec)
    uid = f"uid-{name}"
    while True:
        results = store.config_maps_data(NAMESPACE, run_selector(name, task.revision))
        state = search_state(model, results, name, task.revision)
        if state.pending is None:
            break
        shards = shard(state.pending, model.execution.shard_size)
        for configmap in build_shard_configmaps(
            name, NAMESPACE, uid, task.revision, state.batch, shards
        ):
            store.store_config_map(NAMESPACE, configmap)
        for index in range(len(shards)):
            evaluate = Task(
                WorkerStep.EVALUATE,
                "OptimizationRun",
                name,
                NAMESPACE,
                task.revision,
                index=index,
                batch=state.batch,
                shards_per_input=shards_per_input(shards),
            )
            assert work(store, evaluate) is None
    return task


def test_a_distributed_search_stepped_through_its_pods_ends_as_the_same_search_here() -> None:
    spec = _search(
        "optimization-genetic.yaml",
        algorithm={"name": "nsga2", "nsga2": {"populationSize": 8, "generations": 3}},
        execution={"mode": "distributed", "shardSize": 3},
    )
    store = MemoryStore()
    task = _distributed(store, "ga", spec)
    last = store.config_maps[shard_result_name("ga", task.revision, 2, 2)]
    assert last["metadata"]["labels"]["stratopt.io/batch"] == "2"
    assert shard_result_name("ga", task.revision, 3, 0) not in store.config_maps

    finalize = Task(WorkerStep.FINALIZE, "OptimizationRun", "ga", NAMESPACE, task.revision)
    assert work(store, finalize) is None

    local = dict(spec, execution={"mode": "single"})
    _assert_same_as_here(store, task, local)


def test_the_first_shard_of_a_look_ahead_strategy_fails_the_run_before_evaluating() -> None:
    spec = _search(
        algorithm={"name": "random", "random": {"samples": 6}},
        execution={"mode": "distributed", "shardSize": 2},
        parameters=[{"name": "lookback", "type": "int", "min": 2, "max": 9}],
    )
    spec["backtest"]["strategy"] = {"name": "tests.user_strategies.dishonest:PeeksAhead"}
    store = MemoryStore()
    task = store.add("OptimizationRun", "peek", spec)
    first = Task(
        WorkerStep.EVALUATE, "OptimizationRun", "peek", NAMESPACE, task.revision, input_wait=0
    )

    failure = work(store, first)

    assert failure is not None and failure.reason == "LookAhead"
    assert failure.field == "spec.backtest.strategy.name"
    assert shard_result_name("peek", task.revision, 0, 0) not in store.config_maps


def _stepped_random_search() -> tuple[MemoryStore, Task]:
    """A distributed random search of 6 in shards of 2, every shard evaluated."""
    spec = _search(
        algorithm={"name": "random", "random": {"samples": 6}},
        execution={"mode": "distributed", "shardSize": 2},
    )
    store = MemoryStore()
    return store, _distributed(store, "r", spec)


def test_finalize_without_a_batchs_results_fails_naming_the_batch() -> None:
    store, task = _stepped_random_search()
    del store.config_maps[shard_result_name("r", task.revision, 0, 1)]

    failure = work(
        store, Task(WorkerStep.FINALIZE, "OptimizationRun", "r", NAMESPACE, task.revision)
    )

    assert failure is not None and failure.reason == "ResultMissing"
    assert "batch 0" in failure.message
    assert result_name("r", task.revision) not in store.config_maps


def test_finalize_over_results_of_other_inputs_fails_and_never_mixes_them() -> None:
    store, task = _stepped_random_search()
    inputs = store.config_maps[shard_input_name("r", task.revision, 0, 0)]["data"]
    first = json.loads(inputs["shard-0"])
    first[0] = {key: value + 1 for key, value in first[0].items()}
    inputs["shard-0"] = json.dumps(first)

    failure = work(
        store, Task(WorkerStep.FINALIZE, "OptimizationRun", "r", NAMESPACE, task.revision)
    )

    assert failure is not None and failure.reason == "ReplayMismatch"
    assert "batch 0" in failure.message
    assert result_name("r", task.revision) not in store.config_maps


def test_a_shard_without_its_input_fails_rather_than_evaluating_nothing() -> None:
    store = MemoryStore()
    spec = _search(execution={"mode": "distributed"})
    task = store.add("OptimizationRun", "r", spec)
    evaluate = Task(
        WorkerStep.EVALUATE,
        "OptimizationRun",
        "r",
        NAMESPACE,
        task.revision,
        index=3,
        shards_per_input=4,
    )
    assert work(store, evaluate) is not None  # no input ConfigMap at all
    store.store_config_map(
        NAMESPACE,
        {
            "metadata": {
                "name": shard_input_name("r", task.revision, 0, 0),
                "namespace": NAMESPACE,
            },
            "data": {"shard-0": "[]"},
        },
    )

    failure = work(store, evaluate)

    assert failure is not None and failure.reason == "ResultMissing"
    assert "shard 3" in failure.message


def test_a_pod_started_ahead_of_its_batch_waits_for_its_input_then_evaluates_it() -> None:
    store = MemoryStore()
    spec = _search(execution={"mode": "distributed"})
    task = store.add("OptimizationRun", "r", spec)
    name = shard_input_name("r", task.revision, 1, 0)
    params = [{"rsi_period": 10, "rsi_threshold": 25}, {"rsi_period": 20, "rsi_threshold": 35}]
    store.arriving[name] = {
        "metadata": {"name": name, "namespace": NAMESPACE},
        "data": {"shard-0": json.dumps(params), "shard-1": "[]"},
    }
    evaluate = Task(
        WorkerStep.EVALUATE,
        "OptimizationRun",
        "r",
        NAMESPACE,
        task.revision,
        batch=1,
        shards_per_input=2,
        input_wait=30,
    )

    assert work(store, evaluate) is None
    assert store.waits == [(name, 0), (name, 30)]  # looked, compiled, then waited
    stored = json.loads(
        store.config_maps[shard_result_name("r", task.revision, 1, 0)]["data"]["metrics.json"]
    )
    assert len(stored) == 2 and stored[0] != stored[1]

    padding = replace(evaluate, index=1)  # a pod the batch had no shard for
    assert work(store, padding) is None
    result = store.config_maps[shard_result_name("r", task.revision, 1, 1)]
    assert json.loads(result["data"]["metrics.json"]) == []


def test_a_pod_whose_input_never_comes_fails_after_its_wait() -> None:
    store = MemoryStore()
    spec = _search(execution={"mode": "distributed"})
    task = store.add("OptimizationRun", "r", spec)
    evaluate = Task(
        WorkerStep.EVALUATE, "OptimizationRun", "r", NAMESPACE, task.revision, batch=2, input_wait=7
    )

    failure = work(store, evaluate)

    assert failure is not None and failure.reason == "ResultMissing"
    assert "batch 2: the input of shard 0 is missing" in failure.message
    assert "waited 7 s" in failure.message
    assert not [w for w in store.writes if "-s0" in w]


def test_a_distributed_walk_forward_records_its_plan_and_each_fold() -> None:
    spec = _search(
        "walk-forward.yaml",
        algorithm={"name": "random", "random": {"samples": 4}},
        walkForward={"train": 1200, "test": 600, "select": "balanced"},
        execution={"mode": "distributed", "shardSize": 2},
    )
    store = MemoryStore()
    task = _distributed(store, "wf", spec)
    folds = int(store.config_maps[plan_name("wf", task.revision)]["data"]["folds"])
    assert folds == 3  # (3000 - 1200) // 600

    for index in range(folds):
        fold = Task(WorkerStep.FOLD, "OptimizationRun", "wf", NAMESPACE, task.revision, index=index)
        assert work(store, fold) is None
        assert fold_result_name("wf", task.revision, index) in store.config_maps
    assert (
        work(store, Task(WorkerStep.FINALIZE, "OptimizationRun", "wf", NAMESPACE, task.revision))
        is None
    )

    local = dict(spec, execution={"mode": "single"})
    _assert_same_as_here(store, task, local)


def test_a_fold_past_the_data_fails_naming_how_many_folds_there_are() -> None:
    spec = _search(walkForward={"train": 1200, "test": 600})
    store = MemoryStore()
    task = store.add("OptimizationRun", "wf", spec)

    failure = work(
        store, Task(WorkerStep.FOLD, "OptimizationRun", "wf", NAMESPACE, task.revision, index=7)
    )

    assert failure is not None and failure.reason == "ResultMissing"
    assert "3 folds" in failure.message


@pytest.mark.parametrize(
    ("analysis", "expected"),
    [
        (None, "no FeatureAnalysis 'ranks' in research"),
        ({"status": {"phase": "Running"}}, "FeatureAnalysis 'ranks' has no topFeatures"),
    ],
)
def test_a_forecast_whose_analysis_is_absent_or_unfinished_fails_naming_the_field(
    analysis: dict[str, Any] | None, expected: str
) -> None:
    store = MemoryStore()
    spec = yaml.safe_load((EXAMPLES / "forecast.yaml").read_text())["spec"]
    spec = {**spec, "fromFeatureAnalysis": "ranks"}
    spec.pop("features", None)
    if analysis is not None:
        store.add("FeatureAnalysis", "ranks", {}, **analysis)
    task = store.add("ForecastRun", "fc", spec)

    failure = work(store, task)

    assert failure is not None
    assert (failure.reason, failure.field, failure.message) == (
        "InvalidInput",
        FIELD,
        f"{FIELD}: {expected}",
    )


def test_a_forecast_reads_its_analysis_top_features_by_name() -> None:
    store = MemoryStore()
    store.add("FeatureAnalysis", "ranks", {}, status={"topFeatures": ["rsi_14", "atr_14"]})
    task = store.add("ForecastRun", "fc", {"fromFeatureAnalysis": "ranks", "horizon": 3})
    worker = Worker(store, task, store.resources[("ForecastRun", "fc")])

    resolved, unskilled = worker.resolve_analysis({"fromFeatureAnalysis": "ranks", "horizon": 3})

    assert "fromFeatureAnalysis" not in resolved
    assert resolved["features"] == ["rsi_14", "atr_14"]
    assert resolved["horizon"] == 3
    assert unskilled is None


def test_a_forecast_from_an_analysis_without_skill_is_warned() -> None:
    store = MemoryStore()
    analysis = {"topFeatures": ["rsi_14"], "modelScore": 0.476, "baselineScore": 0.5}
    store.add("FeatureAnalysis", "ranks", {}, status={**analysis, "scoreMetric": "roc_auc"})
    task = store.add("ForecastRun", "fc", {"fromFeatureAnalysis": "ranks", "horizon": 3})
    worker = Worker(store, task, store.resources[("ForecastRun", "fc")])

    _, unskilled = worker.resolve_analysis({"fromFeatureAnalysis": "ranks", "horizon": 3})

    assert unskilled is not None
    assert "'ranks' has no skill" in unskilled and "0.476" in unskilled


def test_progress_is_written_at_the_first_batch_then_at_most_every_few_seconds() -> None:
    store = MemoryStore()
    task = store.add("OptimizationRun", "rsi", _search())
    now = [100.0]
    report = ProgressReport(
        Worker(store, task, store.resources[("OptimizationRun", "rsi")]), lambda: now[0]
    )
    entry = BatchProgress(batch=1, evaluations=10, planned=100)

    report(entry)
    now[0] += PROGRESS_SECONDS / 2
    report(replace(entry, batch=2, evaluations=20))
    now[0] += PROGRESS_SECONDS
    report(replace(entry, batch=3, evaluations=30))

    assert store.writes == [progress_name("rsi", task.revision)] * 2
    written = store.config_maps[progress_name("rsi", task.revision)]["data"]["progress.json"]
    assert json.loads(written)["evaluationsCompleted"] == 30


def test_the_command_line_names_a_typed_task_with_the_pods_completion_index() -> None:
    argv = ["evaluate", "--name", "r", "--namespace", "ns", "--revision", "abc"]
    argv += ["--batch", "4", "--shards-per-input", "16"]

    task = parse_task(argv, {"JOB_COMPLETION_INDEX": "21"})

    assert task == Task(WorkerStep.EVALUATE, "OptimizationRun", "r", "ns", "abc", 21, 4, 16)
    run = parse_task(
        ["run", "--kind", "ForecastRun", "--name", "f", "--namespace", "ns", "--revision", "r"], {}
    )
    assert run == Task(WorkerStep.RUN, "ForecastRun", "f", "ns", "r")
    assert parse_task(["compile"], {}) is None
    with pytest.raises(SystemExit):
        parse_task(
            ["run", "--kind", "Pod", "--name", "f", "--namespace", "n", "--revision", "r"], {}
        )


def test_a_retried_pod_whose_result_is_stored_ends_at_once() -> None:
    """Its first pod stored the status, but its end was lost (a node restart): the
    retried pod runs nothing again."""
    store = MemoryStore()
    task = store.add("OptimizationRun", "rsi", _search(algorithm={"name": "random"}))
    stored = {"status.json": json.dumps({"phase": "Succeeded", "best": {}})}
    store.store_config_map(
        NAMESPACE,
        {
            "metadata": {"name": result_name("rsi", task.revision), "namespace": NAMESPACE},
            "data": stored,
        },
    )
    assert work(store, task) is None
    assert _status(store, task) == {"phase": "Succeeded", "best": {}}
    assert evaluations_name("rsi", task.revision) not in store.config_maps


@pytest.mark.parametrize("stored", [True, False], ids=["stored", "partial"])
def test_a_shard_pod_skips_only_a_shard_whose_metrics_are_stored(stored: bool) -> None:
    store = MemoryStore()
    task = store.add("OptimizationRun", "ga", _search())
    evaluate = Task(WorkerStep.EVALUATE, "OptimizationRun", "ga", NAMESPACE, task.revision, index=1)
    data = {"metrics.json": "[]"} if stored else {"other.json": "[]"}
    name = shard_result_name("ga", task.revision, 0, 1)
    store.store_config_map(
        NAMESPACE, {"metadata": {"name": name, "namespace": NAMESPACE}, "data": data}
    )
    failure = work(store, evaluate)
    if stored:  # nothing read, nothing written
        assert failure is None and store.waits == []
    else:  # evaluated again: it waits for its input, which never comes here
        assert failure is not None and failure.reason == "ResultMissing"
        assert store.waits
