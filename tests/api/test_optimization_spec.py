"""OptimizationRun spec validation: every bad field is named, with what to fix."""

from __future__ import annotations

from typing import Any

import pytest

from stratopt.api import SpecError, parse_model
from stratopt.api.v1alpha1 import Goal, OptimizationRunSpec

VALID: dict[str, Any] = {
    "backtest": {"data": {"source": "synthetic:gbm"}, "strategy": {"name": "rsi_reversion"}},
    "parameters": [{"name": "stop_loss", "min": 20, "max": 80}],
    "objectives": [
        "net_profit",
        {"name": "max_drawdown"},
        {"name": "exposure", "goal": "maximize"},
    ],
    "constraints": ["num_trades >= 30", {"metric": "max_drawdown", "op": "<=", "value": 25}],
    "algorithm": {"name": "nsga2"},
}


def parse(**changes: Any) -> OptimizationRunSpec:
    return parse_model(OptimizationRunSpec, {**VALID, **changes}, "spec")


def test_valid_spec_and_defaults() -> None:
    spec = parse()
    assert [o.direction for o in spec.objectives] == [Goal.MAXIMIZE, Goal.MINIMIZE, Goal.MAXIMIZE]
    assert spec.constraints[0].metric == "num_trades" and spec.constraints[0].value == 30
    assert spec.algorithm.settings().population_size == 100
    assert spec.execution.mode == "auto" and spec.seed == 0


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        (
            {"parameters": [{"name": "stop_loss", "min": 80, "max": 20}]},
            "spec.parameters[0]",
            "min must be less than max",
        ),
        ({"parameters": []}, "spec.parameters", "at least 1 item"),
        (
            {"parameters": [{"name": "x", "type": "categorical"}]},
            "spec.parameters[0]",
            "needs values",
        ),
        (
            {"parameters": [{"name": "x", "min": 0, "max": 1, "log": True}]},
            "spec.parameters[0]",
            "log scale needs min > 0",
        ),
        (
            {"parameters": [{"name": "rsi_period", "type": "int", "min": 5, "max": 20.5}]},
            "spec.parameters[0]",
            "type int needs whole min, max and step; got max=20.5",
        ),
        (
            {
                "parameters": [
                    {"name": "rsi_period", "type": "int", "min": 5, "max": 20, "step": 2.5}
                ]
            },
            "spec.parameters[0]",
            "got step=2.5",
        ),
        ({"objectives": ["profit"]}, "spec.objectives[0].name", "unknown metric 'profit'"),
        (
            {"objectives": [{"name": "sharpe_ratio", "goal": "up"}]},
            "spec.objectives[0].goal",
            "'maximize' or 'minimize'",
        ),
        ({"constraints": ["trades > 3"]}, "spec.constraints", "must look like 'metric >= number'"),
        (
            {"algorithm": {"name": "nsga2", "nsga2": {"populationSize": 2}}},
            "spec.algorithm.nsga2.populationSize",
            "greater than or equal to 4",
        ),
        (
            {"algorithm": {"name": "nsga2", "grid": {"steps": 3}}},
            "spec.algorithm",
            "algorithm.grid is set but algorithm.name is 'nsga2'",
        ),
        ({"algorithm": {"name": "annealing"}}, "spec.algorithm.name", "Input should be 'nsga2'"),
        (
            {"algorithm": {"name": "bayesian"}},
            "spec.objectives",
            "bayesian optimizes exactly one objective",
        ),
        (
            {
                "algorithm": {
                    "name": "bayesian",
                    "bayesian": {"iterations": 5, "initialPoints": 9},
                },
                "objectives": ["sharpe_ratio"],
            },
            "spec.algorithm.bayesian",
            "must not exceed",
        ),
        ({"seed": -1}, "spec.seed", "greater than or equal to 0"),
        (
            {"parameters": [{"name": "a", "min": 1, "max": 2}, {"name": "a", "min": 1, "max": 2}]},
            "spec.parameters",
            "'a' is listed more than once",
        ),
        (
            {
                "algorithm": {"name": "grid", "grid": {"steps": 10000}},
                "parameters": [{"name": n, "min": 1, "max": 99} for n in ("a", "b", "c")],
            },
            "spec.algorithm.grid.steps",
            "the grid has 1,000,000,000,000 points (about 1,862,645.1 GiB of results), over the "
            "limit of 100,000",
        ),
        (
            {"algorithm": {"name": "nsga2", "nsga2": {"populationSize": 5000}}},
            "spec.algorithm.nsga2",
            "populationSize × generations is 250,000 (about 477 MiB of results), over the limit "
            "of 100,000",
        ),
        (
            {"algorithm": {"name": "nsga2", "nsga2": {"populationSize": 100000}}},
            "spec.algorithm.nsga2.populationSize",
            "less than or equal to 10000",
        ),
        (
            {"algorithm": {"name": "random", "random": {"samples": 10**7}}},
            "spec.algorithm.random.samples",
            "less than or equal to 100000",
        ),
        ({"algorthm": {"name": "grid"}}, "spec.algorthm", "unknown field"),
    ],
)
def test_bad_specs_name_the_field(changes: dict[str, Any], field: str, message: str) -> None:
    with pytest.raises(SpecError) as caught:
        parse(**changes)
    problems = dict(caught.value.problems)
    assert field in problems, f"{field} not in {list(problems)}"
    assert message in problems[field]
    assert problems[field].count("got ") <= 1, "the value is quoted twice"
    assert "{" not in problems[field], "a mapping is dumped into the message"


def test_a_walk_forward_window_is_quoted_once() -> None:
    with pytest.raises(SpecError) as caught:
        parse(walkForward={"train": "3 years", "test": "6mo"})
    (field, message), *_ = caught.value.problems
    assert field == "spec.walkForward.train"
    assert message.count("'3 years'") == 1, message


def test_grid_size_is_counted_without_building_the_grid() -> None:
    from stratopt.optimize.space import SearchSpace

    spec = parse(
        algorithm={"name": "grid", "grid": {"steps": 7}},
        parameters=[
            {"name": "a", "type": "int", "min": 2, "max": 5},
            {"name": "b", "min": 0.5, "max": 1.5, "step": 0.25},
            {"name": "c", "type": "categorical", "values": [1, 2, 3]},
            {"name": "d", "min": 1, "max": 100, "log": True},
            {"name": "e", "type": "int", "min": 1, "max": 40},
        ],
    )
    assert (
        spec.algorithm.settings().planned_evaluations(spec)
        == len(SearchSpace(spec.parameters).grid(7))
        == 4 * 5 * 3 * 7 * 7
    )


def test_all_problems_are_reported_at_once() -> None:
    with pytest.raises(SpecError) as caught:
        parse(seed=-1, objectives=["nope"], algorithm={"name": "grid", "grid": {"steps": 1}})
    fields = {field for field, _ in caught.value.problems}
    assert {"spec.seed", "spec.objectives[0].name", "spec.algorithm.grid.steps"} <= fields
