"""Status stays small for any population or grid size: a distributed batch of 500 shards,
and a search with thousands of batches, both give a status far below etcd's limit."""

from __future__ import annotations

import itertools
import json

import yaml

from stratopt.api.v1alpha1 import OptimizationRunSpec
from stratopt.api.v1alpha1.optimization import ExecutionSpec
from stratopt.optimize.results import HISTORY_LIMIT, thinned
from stratopt.runtime.distributed import StoredExecutor, search_state
from stratopt.runtime.optimization import prepare, run_optimization
from stratopt.runtime.stored import StoredResults
from tests.conftest import EXAMPLES
from tests.runtime.stored import store_batch

#: etcd refuses objects above 1.5 MiB; status must stay far below that.
STATUS_BUDGET = 256 * 1024


def _spec() -> OptimizationRunSpec:
    """The genetic example on fewer bars, with a population of 1,000 in shards of 2."""
    document = yaml.safe_load((EXAMPLES / "optimization-genetic.yaml").read_text())
    spec = document["spec"]
    spec["backtest"]["data"]["source"] = "synthetic:gbm?bars=3000&freq=1h&seed=7"
    spec["algorithm"]["nsga2"] = {"populationSize": 1000, "generations": 1}
    spec["execution"] = {"mode": "distributed", "shardSize": 2}
    return OptimizationRunSpec.model_validate(spec)


def _stored(spec: OptimizationRunSpec) -> tuple[StoredResults, int]:
    """The first batch's inputs and results, as the operator and shard pods write them."""
    pending = search_state(spec, {}, "big", "rev").pending
    assert pending is not None
    results: StoredResults = {}
    shards = store_batch(results, spec, prepare(spec), 0, pending, name="big", revision="rev")
    return results, shards


def test_a_batch_of_500_shards_keeps_status_bounded() -> None:
    spec = _spec()
    results, shards = _stored(spec)
    assert shards == 500
    state = search_state(spec, results, "big", "rev")
    assert state.pending is None and len(state.driver.evaluations) == 1000

    status = run_optimization(spec, executor=StoredExecutor(results, "big", "rev")).status
    document = status.model_dump(mode="json", by_alias=True, exclude_none=True)
    size = len(json.dumps(document))
    assert size < STATUS_BUDGET, size
    assert len(document["paretoFront"]) <= 100
    assert document["progress"]["evaluationsCompleted"] == 1000


def test_history_is_thinned_evenly_keeping_both_ends() -> None:
    history = [{"batch": float(i + 1)} for i in range(5000)]
    kept = thinned(history)
    assert len(kept) == HISTORY_LIMIT
    assert kept[0]["batch"] == 1 and kept[-1]["batch"] == 5000
    gaps = {b["batch"] - a["batch"] for a, b in itertools.pairwise(kept)}
    assert max(gaps) - min(gaps) <= 1
    assert thinned(history[:10]) == history[:10]


def test_the_largest_shard_allowed_fits_its_result_configmap() -> None:
    spec = _spec()
    results, _ = _stored(spec)
    per_evaluation = max(
        len(found["metrics.json"]) / len(json.loads(found["metrics.json"]))
        for found in results.values()
        if "metrics.json" in found
    )
    limit = ExecutionSpec.model_fields["shard_size"].metadata
    most = next(m.le for m in limit if getattr(m, "le", None) is not None)
    assert most * per_evaluation < 900 * 1024, (most, per_evaluation)
