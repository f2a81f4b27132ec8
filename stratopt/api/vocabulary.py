"""The metric vocabulary: the names objectives and constraints may use.

Every backtest reports these metrics (see :mod:`stratopt.backtest.metrics`); their
default goal sets an objective's direction unless the spec says otherwise.
"""

from __future__ import annotations

from enum import StrEnum


class Goal(StrEnum):
    """Whether a metric is better larger or smaller."""

    MAXIMIZE = "maximize"
    MINIMIZE = "minimize"


#: Metric name → (unit, default goal, description).
METRICS: dict[str, tuple[str, Goal, str]] = {
    "net_profit": ("currency", Goal.MAXIMIZE, "Final equity minus initial capital."),
    "total_return": ("percent", Goal.MAXIMIZE, "Net profit as a percentage of initial capital."),
    "cagr": (
        "percent",
        Goal.MAXIMIZE,
        "Compound annual growth rate over the data's calendar span.",
    ),
    "max_drawdown": ("percent", Goal.MINIMIZE, "Largest peak-to-trough equity decline, positive."),
    "sharpe_ratio": (
        "ratio",
        Goal.MAXIMIZE,
        "Mean over standard deviation of bar returns, annualized.",
    ),
    "sortino_ratio": (
        "ratio",
        Goal.MAXIMIZE,
        "Mean bar return over downside deviation, annualized.",
    ),
    "calmar_ratio": ("ratio", Goal.MAXIMIZE, "CAGR divided by max drawdown."),
    "win_rate": ("percent", Goal.MAXIMIZE, "Share of trades with a positive net result."),
    "profit_factor": ("ratio", Goal.MAXIMIZE, "Gross profit of winners over gross loss of losers."),
    "num_trades": ("count", Goal.MAXIMIZE, "Number of closed trades."),
    "avg_trade": ("currency", Goal.MAXIMIZE, "Mean net result per trade."),
    "exposure": ("percent", Goal.MINIMIZE, "Share of bars with an open position."),
}
METRIC_NAMES: tuple[str, ...] = tuple(METRICS)


def default_goal(metric: str) -> Goal:
    """Whether a metric is maximized or minimized unless a spec says otherwise."""
    return METRICS[metric][1]
