"""A backtest's trade list and equity curve as tables a quant takes away, and the
buy-and-hold benchmark of the same bars.

The engine's own records are arrays for speed; these are the pandas frames written as
``trades.csv`` and ``equity.csv`` and returned by ``Result.trades()`` and
``Result.equity()``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

import numpy as np

from stratopt.backtest.engine import Backtester
from stratopt.backtest.metrics import metrics_from_returns

if TYPE_CHECKING:
    import pandas as pd

#: The engine's exit reasons as a trade list names them.
EXIT_REASONS = {
    "signal": "signal",
    "stop_loss": "stop",
    "take_profit": "target",
    "end": "end of data",
}
#: The metrics a benchmark reports.
BENCHMARK_METRICS = ("total_return", "cagr", "max_drawdown", "sharpe_ratio")


def trades_frame(
    backtester: Backtester,
    parameters: Mapping[str, object] | None = None,
    window: tuple[int, int] | None = None,
) -> pd.DataFrame:
    """One row a trade: entry and exit time, side, prices, size, profit and loss after
    costs, the costs paid, and why it closed (signal, stop, target, end of data)."""
    return ledger(backtester, parameters, window)[0]


def equity_frame(
    backtester: Backtester,
    parameters: Mapping[str, object] | None = None,
    window: tuple[int, int] | None = None,
) -> pd.DataFrame:
    """One row a bar: equity at the close, drawdown from its peak (percent) and the
    position held (units, negative when short)."""
    return ledger(backtester, parameters, window)[1]


def ledger(
    backtester: Backtester,
    parameters: Mapping[str, object] | None = None,
    window: tuple[int, int] | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """:func:`trades_frame` and :func:`equity_frame` of one backtest, run once."""
    import pandas as pd

    result = backtester.run(parameters, window)
    trades = result.trades
    commission = backtester.spec.costs.commission
    units = trades["units"].to_numpy()
    prices = trades["entry_price"] + trades["exit_price"]
    costs = units * (2 * backtester.cost_offset + commission * prices)
    trade_table = pd.DataFrame(
        {
            "entry_time": trades["entry_time"],
            "exit_time": trades["exit_time"],
            "side": trades["direction"],
            "entry_price": trades["entry_price"],
            "exit_price": trades["exit_price"],
            "size": units,
            "pnl": trades["pnl"],
            "costs": np.asarray(costs, dtype=float),
            "exit_reason": [EXIT_REASONS[r] for r in trades["exit_reason"]],
        }
    )
    equity = result.equity.to_numpy()
    first = window[0] if window is not None else 0
    position = np.zeros(len(equity))
    for entry, exit_, side, size in zip(
        trades["entry_bar"], trades["exit_bar"], trades["direction"], units, strict=True
    ):
        # Held from its fill through the bar before its exit; flat at the exit's close.
        position[entry - first : exit_ - first] = size if side == "long" else -size
    peak = np.maximum.accumulate(equity)
    drawdown = np.where(peak > 0, 100 * (peak - equity) / peak, 0.0)
    equity_table = pd.DataFrame(
        {"equity": equity, "drawdown": drawdown, "position": position},
        index=result.equity.index.rename("time"),
    )
    return trade_table, equity_table


def buy_and_hold(
    backtester: Backtester, window: tuple[int, int] | None = None
) -> tuple[dict[str, float], np.ndarray]:
    """Holding the instrument from the first bar's close to the last, fully invested
    without leverage or costs: its metrics and its equity curve from the same capital."""
    start, end = window if window is not None else (0, len(backtester.data))
    close = backtester.data.close[start:end]
    capital = backtester.spec.capital
    equity = capital * close / close[0]
    returns = np.diff(equity, prepend=capital) / np.concatenate(([capital], equity[:-1]))
    years = backtester.data.seconds_between(start, end - 1) / (365.25 * 86400)
    metrics = metrics_from_returns(
        returns,
        np.array([equity[-1] - capital]),
        capital=capital,
        bars_in_market=len(close),
        years=years,
        periods_per_year=backtester.data.periods_per_year,
    )
    return {name: metrics[name] for name in BENCHMARK_METRICS}, equity
