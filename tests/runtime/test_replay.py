"""Replaying stored results rebuilds a distributed search's driver; resuming an earlier
replay batch by batch ends exactly where a replay from the start does."""

from __future__ import annotations

import json
from types import SimpleNamespace
from typing import Any

import yaml

from stratopt.api.v1alpha1 import OptimizationRunSpec
from stratopt.runtime.kubernetes import Replay, replay, shard
from stratopt.runtime.optimization import prepare
from stratopt.runtime.protocol import shard_result_name
from tests.conftest import EXAMPLES


def test_resumed_replay_equals_a_replay_from_the_start() -> None:
    document = yaml.safe_load((EXAMPLES / "optimization-genetic.yaml").read_text())
    document["spec"]["backtest"]["data"]["source"] = "synthetic:gbm?bars=3000&freq=1h&seed=7"
    document["spec"]["algorithm"]["nsga2"] = {"populationSize": 10, "generations": 4}
    document["spec"]["execution"] = {"mode": "distributed", "shardSize": 3}
    spec = OptimizationRunSpec.model_validate(document["spec"])
    backtester = prepare(spec)
    results: dict[str, Any] = {}
    resumed: Replay | None = None
    batches = 0
    while True:
        resumed = replay(spec, results, "r", "v", resumed)
        fresh = replay(spec, results, "r", "v")
        assert (resumed.batch, resumed.pending) == (fresh.batch, fresh.pending)
        assert resumed.driver.evaluations == fresh.driver.evaluations
        if resumed.pending is None:
            break
        for index, params in enumerate(shard(resumed.pending, 3)):
            metrics = [backtester.evaluate(p) for p in params]
            results[shard_result_name("r", "v", resumed.batch, index)] = SimpleNamespace(
                data={"metrics.json": json.dumps(metrics)}
            )
        batches += 1
    assert batches == 4 and len(resumed.driver.evaluations) == 40
