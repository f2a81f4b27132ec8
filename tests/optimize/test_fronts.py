"""Honest fronts: solutions equal in every objective are one row that counts them, and
configurations that never trade are not offered while others do."""

from __future__ import annotations

from typing import Any

from stratopt.api.v1alpha1 import OptimizationRunSpec
from stratopt.optimize import Evaluation, summarize

SPEC: dict[str, Any] = {
    "backtest": {"data": {"source": "synthetic:gbm"}, "strategy": {"name": "rsi_reversion"}},
    "parameters": [{"name": "stop_loss", "min": 1, "max": 100}],
    "objectives": ["net_profit", "max_drawdown"],
    "algorithm": {"name": "random"},
}


def evaluation(stop: float, profit: float, drawdown: float, trades: int = 10) -> Evaluation:
    metrics = {"net_profit": profit, "max_drawdown": drawdown, "num_trades": float(trades)}
    return Evaluation({"stop_loss": stop}, metrics)


def front(evaluations: list[Evaluation], **spec: Any) -> Any:
    parsed = OptimizationRunSpec.model_validate({**SPEC, **spec})
    return summarize(parsed, evaluations, planned=len(evaluations), batches=1)


def test_equal_objectives_collapse_into_one_counted_row() -> None:
    status = front(
        [
            evaluation(10, 100.0, 5.0),
            evaluation(11, 100.0000001, 5.0000001),  # equal to six significant digits
            evaluation(12, 100.0, 5.0),
            evaluation(30, 200.0, 9.0),
        ]
    )
    assert status.pareto_front_size == 2
    counts = sorted((round(s.objectives["net_profit"]), s.count) for s in status.pareto_front)
    assert counts == [(100, 3), (200, 1)]
    assert [s.rank for s in status.pareto_front] == [1, 2]


def test_configurations_that_never_trade_are_not_offered_unless_asked() -> None:
    idle = evaluation(99, 0.0, 0.0, trades=0)  # Pareto-optimal: no loss, no drawdown
    active = [evaluation(10, 100.0, 5.0), evaluation(20, -50.0, 8.0)]
    status = front([idle, *active])
    assert [s.parameters["stop_loss"] for s in status.pareto_front] == [10]
    assert status.best is not None and status.best.parameters["stop_loss"] == 10
    everything = front([idle, *active], minTrades=0)
    assert {s.parameters["stop_loss"] for s in everything.pareto_front} == {10, 99}
    alone = front([idle])  # nothing trades: offered, and the run says so
    assert alone.pareto_front and alone.warnings[0].startswith("no evaluation traded")
