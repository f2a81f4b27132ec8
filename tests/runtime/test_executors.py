"""The executor contract (:class:`stratopt.runtime.executor.Executor`): for the same spec
and seed, every backend gives the search and the walk-forward the same results.

A new backend is one more entry of ``BACKENDS``: a function from the spec to the
executor, holding whatever the backend computed, as it would hold it.
"""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest
import yaml

from stratopt.api.v1alpha1 import OptimizationRunSpec
from stratopt.optimize.walkforward import fold_windows
from stratopt.runtime.distributed import StoredExecutor, search_state
from stratopt.runtime.executor import Executor
from stratopt.runtime.local import LocalExecutor
from stratopt.runtime.optimization import prepare, run_optimization
from stratopt.runtime.stored import StoredResults, encode_fold, fold_result_name
from stratopt.runtime.walkforward import run_fold
from tests.conftest import EXAMPLES
from tests.runtime.stored import store_batch


def _spec(seed: int = 3) -> OptimizationRunSpec:
    """NSGA-II batches of 20 (enough for a two-process pool) and three folds."""
    document = yaml.safe_load((EXAMPLES / "walk-forward.yaml").read_text())["spec"]
    document["backtest"]["data"]["source"] = "synthetic:gbm?bars=4000&freq=1h&seed=7"
    document["algorithm"]["nsga2"] = {"populationSize": 20, "generations": 3}
    document["walkForward"] = {"train": 1600, "test": 800}
    document["seed"] = seed
    return OptimizationRunSpec.model_validate(document)


def _jobs(spec: OptimizationRunSpec) -> Executor:
    """What a distributed run's shard and fold pods store (``tests/runtime/stored.py``
    stores a batch as they do), read back."""
    backtester = prepare(spec)
    results: StoredResults = {}
    while (state := search_state(spec, results, "r", "v")).pending is not None:
        store_batch(results, spec, backtester, state.batch, state.pending)
    assert spec.walk_forward is not None
    for index, fold in enumerate(fold_windows(backtester.data.index, spec.walk_forward)):
        encoded = encode_fold(run_fold(spec, backtester, fold))  # what fold pod `index` stores
        results[fold_result_name("r", "v", index)] = json.loads(json.dumps(encoded))
    return StoredExecutor(results, "r", "v")


BACKENDS: dict[str, Callable[[OptimizationRunSpec], Executor]] = {
    "local, one process": lambda spec: LocalExecutor(prepare(spec), 1),
    "local, a pool of two": lambda spec: LocalExecutor(prepare(spec), 2),
    "kubernetes jobs": _jobs,
}


@pytest.fixture(scope="module")
def reference() -> object:
    return run_optimization(_spec(), workers=1)


@pytest.mark.parametrize("backend", sorted(BACKENDS))
def test_every_backend_gives_the_same_search_and_walk_forward(
    backend: str, reference: object
) -> None:
    spec = _spec()
    executor = BACKENDS[backend](spec)
    try:
        outcome = run_optimization(spec, executor=executor)
    finally:
        executor.close()

    expected = reference.status  # type: ignore[attr-defined]
    assert outcome.status.walk_forward is not None
    assert len(outcome.status.walk_forward.folds) == 3
    assert [e.parameters for e in outcome.evaluations] == [
        e.parameters
        for e in reference.evaluations  # type: ignore[attr-defined]
    ]
    assert outcome.status == expected


def test_the_contract_tells_seeds_apart() -> None:
    """The suite could fail: another seed searches other parameters."""
    first = run_optimization(_spec(3), executor=LocalExecutor(prepare(_spec(3)), 1))
    other = run_optimization(_spec(4), executor=LocalExecutor(prepare(_spec(4)), 1))
    assert [e.parameters for e in first.evaluations] != [e.parameters for e in other.evaluations]


@pytest.mark.parametrize("backend", sorted(BACKENDS))
def test_a_batch_with_a_repeat_gets_its_metrics_in_order(backend: str) -> None:
    spec = _spec()
    executor = BACKENDS[backend](spec)
    state = search_state(spec, {}, "r", "v")
    assert state.pending is not None
    batch = state.pending
    try:
        metrics = executor.evaluate(0, batch)
        again = executor.evaluate(0, batch)
    finally:
        executor.close()
    backtester = prepare(spec)
    assert metrics == again == [backtester.evaluate(params) for params in batch]
