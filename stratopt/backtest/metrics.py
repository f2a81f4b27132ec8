"""Performance metrics. Their names are the objective vocabulary of every search.

Every metric is a finite float (never NaN or infinite), so results serialize to JSON and
sort predictably. Ratios whose denominator is zero — Sharpe of a flat equity curve,
Sortino without a losing bar, Calmar without a drawdown, profit factor without a losing
trade — are reported as 0.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping

import numpy as np

from stratopt.api.vocabulary import METRIC_NAMES, METRICS, Goal, default_goal
from stratopt.backtest import _kernel as k

__all__ = [
    "INFEASIBLE",
    "MEANINGFUL_TRADES",
    "METRICS",
    "METRIC_NAMES",
    "Goal",
    "default_goal",
    "infeasible_metrics",
    "metrics_from_returns",
    "metrics_from_stats",
    "too_few_trades",
    "undefined_ratio",
]


#: The metric that marks an evaluation of a parameter combination its strategy refused
#: (1): not a backtest, and never on a front while anything else is feasible.
INFEASIBLE = "infeasible"


def infeasible_metrics() -> dict[str, float]:
    """What an evaluation the strategy refused reports: every metric 0, marked."""
    return {**dict.fromkeys(METRIC_NAMES, 0.0), INFEASIBLE: 1.0}


#: Fewer trades than this are too few for their mean result to say more than their luck:
#: the standard error of a mean falls with the square root of the count, and by 30 the
#: mean of trade results is close enough to normal for a t-test to mean what it says.
MEANINGFUL_TRADES = 30


def too_few_trades(metrics: Mapping[str, float]) -> str | None:
    """Why ``metrics`` rest on too few trades to mean anything, if they do."""
    trades = int(metrics["num_trades"])
    if trades >= MEANINGFUL_TRADES:
        return None
    return f"rests on {trades} trade{'s' if trades != 1 else ''}: fewer than {MEANINGFUL_TRADES}"


def _ratio(numerator: float, denominator: float) -> float:
    return numerator / denominator if denominator > 0 else 0.0


def metrics_from_stats(
    stats: np.ndarray, *, capital: float, bars: int, years: float, periods_per_year: float
) -> dict[str, float]:
    """Turn the kernel's statistics vector into the named metrics."""
    final = float(stats[k.S_FINAL_EQUITY])
    n_returns = float(stats[k.S_RETURNS])
    trades = float(stats[k.S_TRADES])
    mean = _ratio(float(stats[k.S_SUM_RETURN]), n_returns)
    variance = _ratio(float(stats[k.S_SUM_RETURN_SQ]) - n_returns * mean * mean, n_returns - 1)
    std = math.sqrt(max(variance, 0.0))
    downside = math.sqrt(_ratio(float(stats[k.S_SUM_DOWNSIDE_SQ]), n_returns))
    annualizer = math.sqrt(periods_per_year)
    growth = final / capital
    if years > 0 and growth > 0:
        cagr = (growth ** (1.0 / years) - 1.0) * 100.0
    else:
        cagr = -100.0 if growth <= 0 else 0.0
    max_drawdown = float(stats[k.S_MAX_DRAWDOWN]) * 100.0
    values = {
        "net_profit": final - capital,
        "total_return": (growth - 1.0) * 100.0,
        "cagr": cagr,
        "max_drawdown": max_drawdown,
        "sharpe_ratio": _ratio(mean, std) * annualizer if std > 1e-15 else 0.0,
        "sortino_ratio": _ratio(mean, downside) * annualizer if downside > 1e-15 else 0.0,
        "calmar_ratio": _ratio(cagr, max_drawdown),
        "win_rate": _ratio(float(stats[k.S_WINS]), trades) * 100.0,
        "profit_factor": _ratio(float(stats[k.S_GROSS_PROFIT]), float(stats[k.S_GROSS_LOSS])),
        "num_trades": trades,
        "avg_trade": _ratio(float(stats[k.S_GROSS_PROFIT]) - float(stats[k.S_GROSS_LOSS]), trades),
        "exposure": _ratio(float(stats[k.S_BARS_IN_MARKET]), float(bars)) * 100.0,
    }
    return {name: (value if math.isfinite(value) else 0.0) for name, value in values.items()}


#: Per ratio metric: what makes its denominator zero, and how a result's metrics show
#: that it was reported as 0 for that reason while its numerator is positive.
_WITHOUT_DENOMINATOR: dict[str, tuple[str, Callable[[Mapping[str, float]], bool]]] = {
    "profit_factor": (
        "no losing trade",
        lambda m: m["profit_factor"] == 0 and m["num_trades"] > 0 and m["avg_trade"] > 0,
    ),
    "sortino_ratio": ("no losing bar", lambda m: m["sortino_ratio"] == 0 < m["sharpe_ratio"]),
    "calmar_ratio": (
        "no drawdown",
        lambda m: m["calmar_ratio"] == 0 and m["max_drawdown"] == 0 and m["cagr"] > 0,
    ),
}


def undefined_ratio(metric: str, metrics: Mapping[str, float]) -> str | None:
    """Why ``metric`` reads 0 in ``metrics`` although the result is as good as the ratio
    can measure (its denominator is zero, its numerator positive); None otherwise."""
    found = _WITHOUT_DENOMINATOR.get(metric)
    if found is None or not found[1](metrics):
        return None
    return found[0]


def metrics_from_returns(
    returns: np.ndarray,
    trade_pnls: np.ndarray,
    *,
    capital: float,
    bars_in_market: int,
    years: float,
    periods_per_year: float,
) -> dict[str, float]:
    """Metrics of a bar-return series and its trades (e.g. a stitched walk-forward curve)."""
    equity = capital * np.cumprod(1.0 + returns)
    peaks = np.maximum.accumulate(np.concatenate(([capital], equity)))[1:]
    stats = np.zeros(k.STATS_SIZE)
    stats[k.S_FINAL_EQUITY] = equity[-1] if len(equity) else capital
    stats[k.S_MAX_DRAWDOWN] = float(np.max(1.0 - equity / peaks)) if len(equity) else 0.0
    body = returns[1:]  # the kernel counts returns between bars, not the first bar's
    stats[k.S_SUM_RETURN] = body.sum()
    stats[k.S_SUM_RETURN_SQ] = (body * body).sum()
    stats[k.S_SUM_DOWNSIDE_SQ] = (np.minimum(body, 0.0) ** 2).sum()
    stats[k.S_RETURNS] = len(body)
    stats[k.S_TRADES] = len(trade_pnls)
    stats[k.S_WINS] = float((trade_pnls > 0).sum())
    stats[k.S_GROSS_PROFIT] = float(trade_pnls[trade_pnls > 0].sum())
    stats[k.S_GROSS_LOSS] = float(-trade_pnls[trade_pnls <= 0].sum())
    stats[k.S_BARS_IN_MARKET] = bars_in_market
    return metrics_from_stats(
        stats, capital=capital, bars=len(returns), years=years, periods_per_year=periods_per_year
    )
