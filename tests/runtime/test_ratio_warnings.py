"""Ratios with nothing to divide by are reported as 0; a search that weighs them says so."""

from __future__ import annotations

from typing import Any

from stratopt.api.v1alpha1 import OptimizationRunSpec
from stratopt.optimize import Evaluation
from stratopt.runtime import run_optimization
from stratopt.runtime.optimization import undefined_ratio_warnings

PLAIN = {
    "net_profit": 10.0,
    "total_return": 0.01,
    "cagr": 0.5,
    "max_drawdown": 1.0,
    "sharpe_ratio": 0.8,
    "sortino_ratio": 1.1,
    "calmar_ratio": 0.5,
    "win_rate": 60.0,
    "profit_factor": 1.3,
    "num_trades": 20.0,
    "avg_trade": 0.5,
    "exposure": 30.0,
}


def spec(objectives: list[str], constraints: list[str] | None = None, **backtest: Any) -> Any:
    return OptimizationRunSpec.model_validate(
        {
            "seed": 1,
            "backtest": {
                "data": {"source": "synthetic:gbm?bars=2000&freq=1h&seed=5"},
                "strategy": {"name": "rsi_reversion", "parameters": {"stop_loss": 500}},
                **backtest,
            },
            "parameters": [{"name": "take_profit", "min": 1, "max": 3}],
            "objectives": objectives,
            "constraints": constraints or [],
            "algorithm": {"name": "random", "random": {"samples": 6}},
        }
    )


def test_each_weighed_ratio_without_a_denominator_is_called_out_once() -> None:
    no_losing_trade = {**PLAIN, "profit_factor": 0.0, "win_rate": 100.0}
    no_losing_bar = {**PLAIN, "sortino_ratio": 0.0}
    no_drawdown = {**PLAIN, "calmar_ratio": 0.0, "max_drawdown": 0.0}
    really_zero = {**PLAIN, "profit_factor": 0.0, "avg_trade": -2.0}  # only losing trades
    evaluations = [
        Evaluation({"x": float(i)}, m)
        for i, m in enumerate([PLAIN, no_losing_trade, no_losing_bar, no_drawdown, really_zero])
    ]
    weighed = spec(["profit_factor", "calmar_ratio"], ["sortino_ratio >= 0.5"])
    warnings = undefined_ratio_warnings(weighed, evaluations)
    assert [w.split(":")[0] for w in warnings] == [
        "1 of 5 evaluations have no losing trade",
        "1 of 5 evaluations have no drawdown",
        "1 of 5 evaluations have no losing bar",
    ]
    assert undefined_ratio_warnings(spec(["net_profit"]), evaluations) == []


def test_a_search_is_told_when_solutions_that_never_lose_score_0() -> None:
    # A target of 1-3 pips inside a 500-pip stop, without costs: nearly every trade wins.
    free = {"spread": 0, "slippage": 0, "commission": 0}
    outcome = run_optimization(spec(["profit_factor"], costs=free), workers=1)
    perfect = [e for e in outcome.evaluations if e.metrics["win_rate"] == 100.0]
    assert perfect and all(e.metrics["profit_factor"] == 0.0 for e in perfect)
    best = outcome.status.best
    assert best is not None and best.parameters not in [e.parameters for e in perfect]
    told = f"{len(perfect)} of 6 evaluations have no losing trade: their profit_factor is"
    assert any(w.startswith(told) for w in outcome.status.warnings), outcome.status.warnings
