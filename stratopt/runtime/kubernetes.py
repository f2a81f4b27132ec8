"""Distributed search state kept in the cluster: each batch's shards and their results
live in ConfigMaps owned by the run, and the driver is rebuilt by replaying them.

Replay is what makes the operator restart-safe: whatever it remembered is gone after a
restart, and nothing is lost or evaluated twice, because the stored results say exactly
which batches are done.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from stratopt.api.v1alpha1 import OptimizationRunSpec
from stratopt.optimize import DRIVERS, Driver
from stratopt.runtime.protocol import shard_result_name

Params = dict[str, float]


def shard(batch: list[Params], shard_size: int) -> list[list[Params]]:
    """Consecutive shards of at most ``shard_size`` parameter sets, in batch order."""
    return [batch[i : i + shard_size] for i in range(0, len(batch), shard_size)]


def stored_results(core: Any, namespace: str, name: str, revision: str) -> dict[str, Any]:
    """Result ConfigMaps of a run's revision, by name, in one LIST call."""
    selector = f"stratopt.io/run={name},stratopt.io/revision={revision}"
    return {
        cm.metadata.name: cm
        for cm in core.list_namespaced_config_map(namespace, label_selector=selector).items
    }


def batch_metrics(
    results: dict[str, Any], name: str, revision: str, batch: int, shards: int
) -> list[dict[str, float]] | None:
    """Metrics of a whole batch in order, or None while any shard is missing."""
    metrics: list[dict[str, float]] = []
    for index in range(shards):
        found = results.get(shard_result_name(name, revision, batch, index))
        if found is None or "metrics.json" not in (found.data or {}):
            return None
        metrics.extend(json.loads(found.data["metrics.json"]))
    return metrics


@dataclass
class Replay:
    """Where a distributed search stands."""

    driver: Driver
    batch: int  # number of the first batch without results
    pending: list[Params] | None  # its parameter sets; None when the search is done


def replay(spec: OptimizationRunSpec, results: dict[str, Any], name: str, revision: str) -> Replay:
    """Ask and tell through every batch with stored results; stop at the first without."""
    driver = DRIVERS[spec.algorithm.name.value](spec)
    number = 0
    while batch := driver.ask():
        metrics = batch_metrics(
            results, name, revision, number, len(shard(batch, spec.execution.shard_size))
        )
        if metrics is None:
            return Replay(driver, number, batch)
        driver.tell(metrics)
        number += 1
    return Replay(driver, number, None)
