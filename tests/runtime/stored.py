"""A distributed batch stored as the operator and its shard pods store it: the shard
inputs the operator writes, and each shard's metrics as its pod writes them."""

from __future__ import annotations

import json

from stratopt.api.v1alpha1 import OptimizationRunSpec
from stratopt.backtest import Backtester
from stratopt.operator.manifests import build_shard_configmaps
from stratopt.runtime.stored import StoredResults, shard, shard_result_name


def store_batch(
    results: StoredResults,
    spec: OptimizationRunSpec,
    backtester: Backtester,
    number: int,
    batch: list[dict[str, float]],
    *,
    name: str = "r",
    revision: str = "v",
) -> int:
    """Add batch ``number``'s inputs and results to ``results``; the number of shards."""
    shards = shard(batch, spec.execution.shard_size)
    for configmap in build_shard_configmaps(name, "default", "uid", revision, number, shards):
        results[configmap["metadata"]["name"]] = configmap["data"]
    for index, params in enumerate(shards):
        metrics = [backtester.evaluate(p) for p in params]
        results[shard_result_name(name, revision, number, index)] = {
            "metrics.json": json.dumps(metrics)
        }
    return len(shards)
