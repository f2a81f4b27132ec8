"""Relations between parameters: samplers and Bayesian proposals never break them, the
grid skips and counts what does, NSGA-II counts breaking points as infeasible, and a
combination the strategy refuses is an infeasible evaluation, not the end of a search."""

from __future__ import annotations

from typing import Any

import pytest

from stratopt.api import SpecError, parse_model
from stratopt.api.v1alpha1 import OptimizationRunSpec
from stratopt.backtest.metrics import INFEASIBLE
from stratopt.runtime import run_optimization

OVERLAPPING = [  # fast >= slow for part of the box
    {"name": "fast_period", "type": "int", "min": 5, "max": 60},
    {"name": "slow_period", "type": "int", "min": 20, "max": 80},
]


def spec(algorithm: dict[str, Any], **changes: Any) -> OptimizationRunSpec:
    document = {
        "seed": 3,
        "backtest": {
            "data": {"source": "synthetic:gbm?bars=2000&freq=1h&seed=2"},
            "strategy": {"name": "ema_crossover"},
        },
        "parameters": OVERLAPPING,
        "objectives": ["net_profit"],
        "algorithm": algorithm,
        "minTrades": 0,
        **changes,
    }
    return parse_model(OptimizationRunSpec, document, "spec")


def test_a_refused_combination_inside_a_search_is_infeasible_not_the_end_of_the_run() -> None:
    outcome = run_optimization(spec({"name": "random", "random": {"samples": 40}}), workers=1)
    refused = [e for e in outcome.evaluations if e.metrics.get(INFEASIBLE)]
    assert refused, "the box holds combinations with fast_period >= slow_period"
    assert all(e.parameters["fast_period"] >= e.parameters["slow_period"] for e in refused)
    status = outcome.status
    assert any(
        w.startswith(
            f"{len(refused)} of 40 parameter sets evaluated are combinations the strategy refuses"
        )
        for w in status.warnings
    )
    assert all(
        s.parameters["fast_period"] < s.parameters["slow_period"] for s in status.pareto_front
    )


@pytest.mark.parametrize("sampler", ["random", "sobol", "lhs"])
def test_samplers_never_propose_a_point_that_breaks_a_relation(sampler: str) -> None:
    run = spec(
        {"name": "random", "random": {"samples": 24, "sampler": sampler}},
        parameterConstraints=["fast_period < slow_period"],
    )
    outcome = run_optimization(run, workers=1)
    assert len(outcome.evaluations) == 24
    assert all(
        e.parameters["fast_period"] < e.parameters["slow_period"] for e in outcome.evaluations
    )
    assert not any("refuses" in w for w in outcome.status.warnings)


def test_the_grid_skips_and_counts_the_combinations_that_break_a_relation() -> None:
    run = spec(
        {"name": "grid", "grid": {"steps": 5}},
        parameterConstraints=["2 * fast_period <= slow_period"],
    )
    outcome = run_optimization(run, workers=1)
    kept = outcome.evaluations
    assert kept and all(
        2 * e.parameters["fast_period"] <= e.parameters["slow_period"] for e in kept
    )
    assert outcome.status.warnings[0] == (
        f"grid: {25 - len(kept)} of 25 combinations break spec.parameterConstraints "
        "and were skipped"
    )
    assert outcome.status.progress.evaluations_total == len(kept)


def test_bayesian_proposals_keep_the_relation() -> None:
    run = spec(
        {"name": "bayesian", "bayesian": {"iterations": 12, "initialPoints": 5}},
        parameterConstraints=["fast_period + 5 <= slow_period"],
    )
    outcome = run_optimization(run, workers=1)
    assert len(outcome.evaluations) == 12
    assert all(
        e.parameters["fast_period"] + 5 <= e.parameters["slow_period"] for e in outcome.evaluations
    )


def test_nsga2_keeps_points_that_break_a_relation_off_the_front() -> None:
    run = spec(
        {"name": "nsga2", "nsga2": {"populationSize": 12, "generations": 3}},
        objectives=["net_profit", "max_drawdown"],
        parameterConstraints=["fast_period < slow_period"],
    )
    status = run_optimization(run, workers=1).status
    assert status.pareto_front
    assert all(
        s.parameters["fast_period"] < s.parameters["slow_period"] for s in status.pareto_front
    )


def test_relations_name_searched_parameters_in_a_known_form() -> None:
    with pytest.raises(SpecError, match=r"'fast' is not a searched parameter"):
        spec({"name": "random"}, parameterConstraints=["fast < slow_period"])
    with pytest.raises(
        SpecError, match=r"must compare two parameters, e.g. 'fast_period < slow_period'"
    ):
        spec({"name": "random"}, parameterConstraints=["fast_period != slow_period"])
