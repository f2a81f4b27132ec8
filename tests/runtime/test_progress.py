"""The progress a search reports after each batch: typed, counted, and naming where an
algorithm stands (a genetic search's generation, an ensemble's member)."""

from __future__ import annotations

from typing import Any

import yaml

from stratopt.api.v1alpha1 import OptimizationRunSpec
from stratopt.optimize.results import BatchProgress
from stratopt.runtime.optimization import run_optimization
from tests.conftest import EXAMPLES


def _reported(example: str, **spec: Any) -> tuple[list[BatchProgress], Any]:
    document = yaml.safe_load((EXAMPLES / example).read_text())["spec"]
    document["backtest"]["data"]["source"] = "synthetic:gbm?bars=2000&freq=1h&seed=7"
    document.pop("walkForward", None)
    seen: list[BatchProgress] = []
    outcome = run_optimization(
        OptimizationRunSpec.model_validate({**document, **spec}), workers=1, on_batch=seen.append
    )
    return seen, outcome.status


def test_a_genetic_search_reports_each_generation_and_its_front() -> None:
    seen, status = _reported(
        "optimization-genetic.yaml",
        algorithm={"name": "nsga2", "nsga2": {"populationSize": 6, "generations": 3}},
    )
    assert [p.batch for p in seen] == [1, 2, 3]
    assert [p.evaluations for p in seen] == [6, 12, 18]
    assert {p.planned for p in seen} == {18}
    assert [p.generation for p in seen] == [1, 2, 3]
    assert all(p.hypervolume is not None and p.hypervolume >= 0 for p in seen)
    assert seen[-1].status().evaluations_completed == status.progress.evaluations_completed


def test_an_ensemble_names_the_member_it_runs_in_turn() -> None:
    seen, status = _reported("optimization-ensemble.yaml")
    members = [p.member for p in seen]
    assert members[0] == "random" and members[-1] == "nsga2", members
    assert members == sorted(members, key=members.index)  # each member's batches together
    assert seen[-1].evaluations == status.progress.evaluations_completed <= seen[-1].planned
