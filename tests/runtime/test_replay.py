"""Replaying stored results rebuilds a distributed search's driver: each batch's results
are paired with the inputs they were computed from, checked against what the search asks
now, and resuming an earlier replay batch by batch ends where a replay from the start
does."""

from __future__ import annotations

import json
from typing import Any

import pytest
import yaml

from stratopt.api.v1alpha1 import OptimizationRunSpec
from stratopt.optimize import ReplayMismatchError
from stratopt.runtime.distributed import SearchState, search_state
from stratopt.runtime.optimization import prepare
from stratopt.runtime.stored import StoredResults, shard_input_name, shard_result_name
from tests.conftest import EXAMPLES
from tests.runtime.stored import store_batch


def _spec(seed: int = 42) -> OptimizationRunSpec:
    document = yaml.safe_load((EXAMPLES / "optimization-genetic.yaml").read_text())
    document["spec"]["backtest"]["data"]["source"] = "synthetic:gbm?bars=3000&freq=1h&seed=7"
    document["spec"]["algorithm"]["nsga2"] = {"populationSize": 10, "generations": 4}
    document["spec"]["execution"] = {"mode": "distributed", "shardSize": 3}
    document["spec"]["seed"] = seed
    return OptimizationRunSpec.model_validate(document["spec"])


def test_resumed_replay_equals_a_replay_from_the_start() -> None:
    spec = _spec()
    backtester = prepare(spec)
    results: StoredResults = {}
    resumed: SearchState | None = None
    batches = 0
    while True:
        resumed = search_state(spec, results, "r", "v", resumed)
        fresh = search_state(spec, results, "r", "v")
        assert (resumed.batch, resumed.pending) == (fresh.batch, fresh.pending)
        assert resumed.driver.evaluations == fresh.driver.evaluations
        if resumed.pending is None:
            break
        store_batch(results, spec, backtester, resumed.batch, resumed.pending)
        batches += 1
    assert batches == 4 and len(resumed.driver.evaluations) == 40


def _first_batch_stored(spec: OptimizationRunSpec) -> dict[str, Any]:
    results: StoredResults = {}
    pending = search_state(spec, results, "r", "v").pending
    assert pending is not None
    store_batch(results, spec, prepare(spec), 0, pending)
    return results


def test_results_of_other_inputs_end_the_replay_naming_the_difference() -> None:
    """The spec changed in place (as a library upgrade would change what is asked): the
    stored results are never told to a driver that asks for other parameters."""
    results = _first_batch_stored(_spec(seed=1))
    with pytest.raises(ReplayMismatchError, match=r"batch 0, evaluation 0: evaluated with \{"):
        search_state(_spec(seed=2), results, "r", "v")


def test_a_tampered_input_is_caught_at_its_evaluation() -> None:
    spec = _spec()
    results = _first_batch_stored(spec)
    stored = results[shard_input_name("r", "v", 0, 0)]
    params = json.loads(stored["shard-1"])
    params[2]["take_profit"] += 1.0
    stored["shard-1"] = json.dumps(params)
    with pytest.raises(ReplayMismatchError, match="batch 0, evaluation 5: evaluated with"):
        search_state(spec, results, "r", "v")


def test_a_result_shorter_than_its_input_is_refused() -> None:
    spec = _spec()
    results = _first_batch_stored(spec)
    found = results[shard_result_name("r", "v", 0, 2)]
    found["metrics.json"] = json.dumps(json.loads(found["metrics.json"])[:-1])
    with pytest.raises(ReplayMismatchError, match="shard 2: 3 parameter sets but 2 results"):
        search_state(spec, results, "r", "v")


def test_a_missing_shard_result_leaves_the_batch_pending() -> None:
    spec = _spec()
    results = _first_batch_stored(spec)
    del results[shard_result_name("r", "v", 0, 3)]
    state = search_state(spec, results, "r", "v")
    assert state.batch == 0 and state.pending is not None and len(state.pending) == 10
    assert state.driver.evaluations == []


@pytest.mark.parametrize("change", ["result deleted", "input edited"])
def test_a_resumed_replay_notices_a_told_batch_changed_since(change: str) -> None:
    """A batch's stored result deleted, or its input edited, after the replay told it:
    resuming starts over, so the batch runs again (or the run fails) instead of the
    search going on from what is no longer stored."""
    spec = _spec()
    results = _first_batch_stored(spec)
    told = search_state(spec, results, "r", "v")
    assert told.batch == 1
    if change == "result deleted":
        del results[shard_result_name("r", "v", 0, 2)]
        resumed = search_state(spec, results, "r", "v", told)
        assert resumed.batch == 0 and resumed.driver.evaluations == []
    else:
        edited = dict(results[shard_input_name("r", "v", 0, 0)])
        params = json.loads(edited["shard-0"])
        params[0]["stop_loss"] += 1.0
        edited["shard-0"] = json.dumps(params)
        results[shard_input_name("r", "v", 0, 0)] = edited
        with pytest.raises(ReplayMismatchError, match="batch 0, evaluation 0"):
            search_state(spec, results, "r", "v", told)
