"""The metric vocabulary: the names objectives and constraints may use.

Every backtest reports these metrics (see :mod:`stratopt.backtest.metrics`); their
default goal sets an objective's direction unless the spec says otherwise.
"""

from __future__ import annotations

from typing import Literal

Goal = Literal["maximize", "minimize"]

#: Metric name → (unit, default goal, description).
METRICS: dict[str, tuple[str, Goal, str]] = {
    "net_profit": ("currency", "maximize", "Final equity minus initial capital."),
    "total_return": ("percent", "maximize", "Net profit as a percentage of initial capital."),
    "cagr": ("percent", "maximize", "Compound annual growth rate over the data's calendar span."),
    "max_drawdown": ("percent", "minimize", "Largest peak-to-trough equity decline, positive."),
    "sharpe_ratio": (
        "ratio",
        "maximize",
        "Mean over standard deviation of bar returns, annualized.",
    ),
    "sortino_ratio": ("ratio", "maximize", "Mean bar return over downside deviation, annualized."),
    "calmar_ratio": ("ratio", "maximize", "CAGR divided by max drawdown."),
    "win_rate": ("percent", "maximize", "Share of trades with a positive net result."),
    "profit_factor": ("ratio", "maximize", "Gross profit of winners over gross loss of losers."),
    "num_trades": ("count", "maximize", "Number of closed trades."),
    "avg_trade": ("currency", "maximize", "Mean net result per trade."),
    "exposure": ("percent", "minimize", "Share of bars with an open position."),
}
METRIC_NAMES: tuple[str, ...] = tuple(METRICS)


def default_goal(metric: str) -> Goal:
    """Whether a metric is maximized or minimized unless a spec says otherwise."""
    return METRICS[metric][1]
