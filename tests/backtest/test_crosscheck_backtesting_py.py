"""The engine against backtesting.py, an independent event-driven engine.

A mirror strategy feeds backtesting.py exactly the signals, stop levels and sizes our
engine uses, under the same convention (decide on the close, fill at the next open,
stop before target within a bar). Trades must be identical and final equity equal to
1e-6 relative, on the sample data backtesting.py ships and on synthetic data.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from backtesting import Backtest, Strategy

from stratopt.backtest import Backtester
from stratopt.backtest.strategies import get_strategy, resolve_parameters
from stratopt.data import MarketData
from tests.conftest import backtest_spec


def _round_to_tick(price: float, tick: float) -> float:
    inverse = round(1 / tick)
    return float(np.round(price * inverse) / inverse)


def _mirror(
    data: MarketData, params: dict[str, float], percent: bool, strategy: str
) -> type[Strategy]:
    signals = get_strategy(strategy).signals(data, params)
    open_ = data.open
    last = len(data) - 1

    def distance(raw: float, value: float) -> float:
        return raw * value / 100.0 if percent else value * data.pip_size

    class Mirror(Strategy):  # type: ignore[misc]
        def init(self) -> None:
            pass

        def next(self) -> None:
            i = len(self.data) - 1
            if i >= last:
                return
            if self.position:
                long = self.position.is_long
                if (long and signals.long_exit[i]) or (not long and signals.short_exit[i]):
                    self.position.close()
                return
            side = 1 if signals.long_entry[i] else (-1 if signals.short_entry[i] else 0)
            if side == 0:
                return
            # The oracle peeks at the next open only to place the same absolute levels our
            # engine derives from its fill price.
            raw = open_[i + 1]
            stop = _round_to_tick(raw - side * distance(raw, params["stop_loss"]), data.tick_size)
            take = _round_to_tick(raw + side * distance(raw, params["take_profit"]), data.tick_size)
            order = self.buy if side > 0 else self.sell
            order(size=params["position_size"], sl=stop, tp=take)

    return Mirror


def _run_both(
    data: MarketData,
    given: dict[str, float],
    *,
    percent: bool,
    commission: float,
    capital: float,
    strategy: str,
) -> tuple[pd.DataFrame, pd.DataFrame, float, float]:
    spec = backtest_spec(
        capital=capital,
        costs={"commission": commission},
        stopUnit="percent" if percent else "pips",
        strategy={"name": strategy, "parameters": given},
    )
    ours = Backtester(spec, data).run()
    params = resolve_parameters(get_strategy(strategy), given)
    frame = data.to_frame().rename(columns=str.capitalize)
    oracle = Backtest(
        frame,
        _mirror(data, params, percent, strategy),
        cash=capital,
        commission=commission,
        exclusive_orders=False,
        trade_on_close=False,
        hedging=False,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        stats = oracle.run()
    theirs = stats._trades
    final_theirs = float(stats._equity_curve["Equity"].iloc[-1])
    closed = ours.trades[ours.trades.exit_reason != "end"].reset_index(drop=True)
    final_ours = float(ours.equity.iloc[-1])
    open_at_end = ours.trades[ours.trades.exit_reason == "end"]
    # backtesting.py leaves the last trade open (marked at the close, no exit commission).
    final_ours += float((commission * open_at_end.units * open_at_end.exit_price).sum())
    return closed, theirs, final_ours, final_theirs


CASES = [
    pytest.param(
        "eurusd",
        {"stop_loss": 38, "take_profit": 95, "position_size": 0.5},
        False,
        0.0002,
        100_000.0,
        id="EURUSD-hourly-pips",
    ),
    pytest.param(
        "eurusd",
        {"fast_period": 12, "slow_period": 26, "stop_loss": 60, "take_profit": 150},
        False,
        0.0002,
        100_000.0,
        id="EURUSD-hourly-ema-crossover",
    ),
    pytest.param(
        "eurusd",
        {
            "rsi_period": 7,
            "rsi_threshold": 25,
            "stop_loss": 20,
            "take_profit": 40,
            "position_size": 0.9,
        },
        False,
        0.0,
        10_000.0,
        id="EURUSD-hourly-tight",
    ),
    pytest.param(
        "goog",
        {"stop_loss": 8, "take_profit": 15, "position_size": 0.5},
        True,
        0.001,
        100_000.0,
        id="GOOG-daily-percent",
    ),
    pytest.param(
        "synthetic_hourly",
        {"stop_loss": 30, "take_profit": 60, "position_size": 0.3},
        False,
        0.0001,
        50_000.0,
        id="synthetic-hourly",
    ),
]


@pytest.mark.parametrize(("dataset", "given", "percent", "commission", "capital"), CASES)
def test_identical_trades_and_equity(
    request: pytest.FixtureRequest,
    dataset: str,
    given: dict[str, float],
    percent: bool,
    commission: float,
    capital: float,
) -> None:
    data = request.getfixturevalue(dataset)
    strategy = "ema_crossover" if "fast_period" in given else "rsi_reversion"
    ours, theirs, final_ours, final_theirs = _run_both(
        data, given, percent=percent, commission=commission, capital=capital, strategy=strategy
    )
    assert len(ours) >= 20, "too few trades to prove anything"
    assert len(ours) == len(theirs)
    np.testing.assert_array_equal(ours.entry_bar, theirs.EntryBar)
    np.testing.assert_array_equal(ours.exit_bar, theirs.ExitBar)
    np.testing.assert_array_equal(np.where(ours.direction == "long", 1, -1), np.sign(theirs.Size))
    np.testing.assert_array_equal(ours.units, np.abs(theirs.Size))
    np.testing.assert_allclose(ours.entry_price, theirs.EntryPrice, rtol=1e-12)
    np.testing.assert_allclose(ours.exit_price, theirs.ExitPrice, rtol=1e-12)
    assert final_ours == pytest.approx(final_theirs, rel=1e-6)
    assert set(ours.exit_reason) >= {"stop_loss", "take_profit", "signal"}
    if strategy == "ema_crossover":  # it reverses: both sides trade, often back to back
        assert set(ours.direction) == {"long", "short"}
        reversals = (ours.direction.to_numpy()[1:] != ours.direction.to_numpy()[:-1]).sum()
        assert reversals >= len(ours) // 4
