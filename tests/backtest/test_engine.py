"""Engine conventions on hand-made bars, and metrics against the recorded equity curve."""

from __future__ import annotations

import math

import numpy as np
import pytest

from stratopt.backtest import METRIC_NAMES, Backtester
from stratopt.data import MarketData
from stratopt.errors import DataError, InputError
from tests.backtest.scripted import Scripted, bars
from tests.conftest import backtest_spec

FLAT = (1.1000, 1.1005, 1.0995, 1.1000)


def run(data: MarketData, script: str, **spec: object) -> tuple[Backtester, object]:
    params = spec.pop("params", {"stop_loss": 20, "take_profit": 40, "position_size": 0.5})
    strategy = Scripted(script)
    full_spec = backtest_spec(
        strategy={"name": strategy.name, "parameters": params}, capital=10_000.0, **spec
    )
    backtester = Backtester(full_spec, data)
    return backtester, backtester.run()


def test_stop_before_target_when_both_hit_in_one_bar() -> None:
    data = bars([FLAT, (1.1000, 1.1045, 1.0975, 1.1000), FLAT, FLAT])
    _, result = run(data, "L")
    trade = result.trades.iloc[0]
    assert (trade.entry_bar, trade.exit_bar, trade.exit_reason) == (1, 1, "stop_loss")
    assert trade.entry_price == 1.1 and trade.exit_price == pytest.approx(1.0980, abs=1e-12)
    assert trade.units == 4545  # floor(10000 × 0.5 / 1.1)


def test_gap_through_stop_fills_at_open_and_take_profit() -> None:
    data = bars(
        [
            FLAT,
            FLAT,
            (1.0950, 1.0960, 1.0940, 1.0950),
            FLAT,
            FLAT,
            (1.1000, 1.1050, 1.0995, 1.1040),
            FLAT,
        ]
    )
    _, result = run(data, "L...L")
    first, second = result.trades.iloc[0], result.trades.iloc[1]
    assert first.exit_reason == "stop_loss" and first.exit_price == 1.0950
    assert (second.entry_bar, second.exit_bar, second.exit_reason) == (5, 5, "take_profit")
    assert second.exit_price == pytest.approx(1.1040, abs=1e-12)


def test_short_side_and_signal_exit_at_next_open() -> None:
    data = bars([FLAT, FLAT, (1.0990, 1.0995, 1.0985, 1.0990), (1.0980, 1.0985, 1.0975, 1.0980)])
    _, result = run(data, "S.x")
    trade = result.trades.iloc[0]
    assert trade.direction == "short" and trade.exit_reason == "signal"
    assert (trade.entry_bar, trade.exit_bar) == (1, 3)
    assert trade.pnl == pytest.approx(trade.units * (1.1000 - 1.0980))


def test_stop_levels_are_rounded_to_the_tick() -> None:
    """1.10235 − 31 pips is 1.0992499999999998 in floating point; a low of 1.09925 touches
    the whole-pip level, so the stop must fire."""
    touch = (1.10235, 1.10300, 1.09925, 1.10000)
    data = bars([FLAT, touch, FLAT, FLAT])
    _, result = run(data, "L", params={"stop_loss": 31, "take_profit": 0, "position_size": 0.5})
    assert 1.10235 - 31 * 0.0001 < 1.09925  # the trap this test is about
    assert result.trades.iloc[0].exit_reason == "stop_loss"
    assert result.trades.iloc[0].exit_price == 1.09925


def test_fill_at_close_convention() -> None:
    data = bars([FLAT, (1.1000, 1.1010, 1.0990, 1.1008), (1.1010, 1.1020, 1.1000, 1.1015), FLAT])
    _, result = run(
        data, ".Lx", fill="close", params={"stop_loss": 0, "take_profit": 0, "position_size": 0.5}
    )
    trade = result.trades.iloc[0]
    assert (trade.entry_bar, trade.exit_bar) == (1, 2)
    assert (trade.entry_price, trade.exit_price) == (1.1008, 1.1015)


def test_costs_spread_slippage_commission() -> None:
    data = bars([FLAT, FLAT, FLAT, FLAT])
    _, result = run(
        data,
        "L.x",
        costs={"commission": 0.001, "spread": 2.0, "slippage": 0.5},
        params={"stop_loss": 0, "take_profit": 0, "position_size": 0.5},
    )
    trade = result.trades.iloc[0]
    offset = (1.0 + 0.5) * 0.0001
    assert trade.entry_price == pytest.approx(1.1 + offset)
    assert trade.exit_price == pytest.approx(1.1 - offset)
    expected = trade.units * (-2 * offset) - 0.001 * trade.units * (
        trade.entry_price + trade.exit_price
    )
    assert trade.pnl == pytest.approx(expected)
    assert result.metrics["net_profit"] == pytest.approx(expected)


def test_lot_size_and_percent_stops() -> None:
    data = bars([FLAT, (1.1000, 1.1010, 1.0889, 1.0900), FLAT])
    _, result = run(
        data,
        "L",
        lotSize=1000,
        stopUnit="percent",
        params={"stop_loss": 1.0, "take_profit": 0, "position_size": 0.5},
    )
    trade = result.trades.iloc[0]
    assert trade.units == 4000
    assert trade.exit_price == pytest.approx(1.089, abs=1e-12)  # 1% below 1.1


def test_open_position_is_closed_at_the_end() -> None:
    data = bars([FLAT, FLAT, (1.1000, 1.1010, 1.0995, 1.1007)])
    _, result = run(data, "L")
    trade = result.trades.iloc[-1]
    assert trade.exit_reason == "end" and trade.exit_price == 1.1007


def test_no_trades_and_flat_prices_give_finite_zero_metrics() -> None:
    data = bars([FLAT] * 50)
    _, idle = run(data, "")
    _, flat = run(data, "L")
    for result in (idle, flat):
        assert set(result.metrics) == set(METRIC_NAMES)
        assert all(math.isfinite(v) for v in result.metrics.values())
        assert result.metrics["sharpe_ratio"] == 0.0 and result.metrics["sortino_ratio"] == 0.0
    assert idle.metrics["num_trades"] == 0 and idle.metrics["win_rate"] == 0.0
    assert flat.metrics["num_trades"] == 1 and flat.metrics["exposure"] > 90


def test_metrics_agree_with_the_equity_curve_and_trades(synthetic_hourly: MarketData) -> None:
    spec = backtest_spec(
        capital=100_000.0,
        leverage=20,
        costs={"commission": 0.00002, "spread": 0.6},
        strategy={"name": "rsi_reversion", "parameters": {"stop_loss": 30, "take_profit": 70}},
    )
    backtester = Backtester(spec, synthetic_hourly)
    result = backtester.run()
    equity = result.equity.to_numpy()
    returns = equity[1:] / equity[:-1] - 1
    ppy = synthetic_hourly.periods_per_year
    m = result.metrics
    assert m == backtester.evaluate()
    assert m["net_profit"] == pytest.approx(equity[-1] - 100_000.0)
    assert m["net_profit"] == pytest.approx(result.trades.pnl.sum())
    assert m["max_drawdown"] == pytest.approx(
        100 * np.max(1 - equity / np.maximum.accumulate(np.maximum(equity, 100_000.0)))
    )
    assert m["sharpe_ratio"] == pytest.approx(returns.mean() / returns.std(ddof=1) * math.sqrt(ppy))
    downside = math.sqrt(np.mean(np.minimum(returns, 0) ** 2))
    assert m["sortino_ratio"] == pytest.approx(returns.mean() / downside * math.sqrt(ppy))
    assert m["num_trades"] == len(result.trades)
    assert m["win_rate"] == pytest.approx(100 * (result.trades.pnl > 0).mean())
    wins, losses = result.trades.pnl.clip(lower=0).sum(), -result.trades.pnl.clip(upper=0).sum()
    assert m["profit_factor"] == pytest.approx(wins / losses)
    assert m["avg_trade"] == pytest.approx(result.trades.pnl.mean())
    years = (synthetic_hourly.index[-1] - synthetic_hourly.index[0]).total_seconds() / (
        365.25 * 86400
    )
    assert m["cagr"] == pytest.approx(100 * ((equity[-1] / 1e5) ** (1 / years) - 1))
    assert m["calmar_ratio"] == pytest.approx(m["cagr"] / m["max_drawdown"])


def test_window_trades_only_inside_it(synthetic_hourly: MarketData) -> None:
    backtester = Backtester(backtest_spec(), synthetic_hourly)
    result = backtester.run(window=(5000, 8000))
    assert result.trades.entry_bar.min() >= 5000 and result.trades.exit_bar.max() <= 7999
    assert len(result.equity) == 3000
    assert backtester.evaluate(window=(5000, 8000)) == result.metrics


def test_too_few_bars_and_bad_parameters(synthetic_hourly: MarketData) -> None:
    with pytest.raises(DataError, match="needs at least 203"):
        Backtester(
            backtest_spec(strategy={"name": "rsi_reversion", "parameters": {"rsi_period": 200}}),
            synthetic_hourly.slice(0, 100),
        )
    backtester = Backtester(backtest_spec(), synthetic_hourly)
    with pytest.raises(InputError, match="must be between 1e-06 and 1"):
        backtester.evaluate({"position_size": 2})
    with pytest.raises(InputError, match="unknown parameter"):
        backtester.evaluate({"stoploss": 2})
    with pytest.raises(InputError, match="must be an integer"):
        backtester.evaluate({"rsi_period": 14.5})


@pytest.mark.parametrize("fill", ["close", "nextOpen"])
def test_exposure_counts_each_bar_in_the_market_once(
    synthetic_hourly: MarketData, fill: str
) -> None:
    """With tight stops and targets, trades often exit and the next enters on one bar;
    that bar is in the market once, so exposure is the share of bars some trade covers."""
    spec = backtest_spec(
        fill=fill,
        strategy={"name": "rsi_reversion", "parameters": {"stop_loss": 8, "take_profit": 8}},
    )
    result = Backtester(spec, synthetic_hourly).run()
    trades = result.trades
    covered: set[int] = set()
    for entry, exit_ in zip(trades["entry_bar"], trades["exit_bar"], strict=True):
        covered.update(range(entry, exit_ + 1))
    shared = set(trades["exit_bar"]) & set(trades["entry_bar"])
    assert len(trades) > 100 and shared, "the case needs exits and entries on one bar"
    bars_total = len(result.equity)
    assert result.metrics["exposure"] == pytest.approx(100 * len(covered) / bars_total)
    assert result.metrics["exposure"] <= 100


def test_the_kernel_refuses_arrays_it_would_read_past(synthetic_hourly: MarketData) -> None:
    from stratopt.backtest import _kernel as k

    data = synthetic_hourly
    bars_total = len(data)
    signal = np.zeros(bars_total, dtype=bool)
    arguments: list[object] = [data.open, data.high, data.low, data.close]
    arguments += [signal, signal, signal, signal[:-5], 0, bars_total]
    arguments += [50.0, 100.0, False, 1e-4, 1e5, 0.02, 1e5, 1.0, 1.0, 0.0, 0.0, False]
    arguments += [np.empty(0), np.empty((0, k.TRADE_COLUMNS)), np.empty((0, 2))]
    with pytest.raises(ValueError, match="one value per bar"):
        k.simulate(*arguments)
    arguments[7] = signal
    arguments[9] = bars_total + 1
    with pytest.raises(ValueError, match="window must lie within the bars"):
        k.simulate(*arguments)


def test_units_are_floored_exactly_as_python_floors() -> None:
    from numba import njit

    from stratopt.backtest import _kernel as k

    floor_div = njit(lambda a, b: k._floor_div(a, b))
    rng = np.random.default_rng(3)
    budgets = rng.uniform(1.0, 1e7, 20_000)
    costs = rng.uniform(1e-3, 1e3, 20_000)
    # Whole quotients and their neighbours, where rounding the quotient decides the floor.
    wholes = np.round(budgets / costs)
    near = np.concatenate([wholes * costs, np.nextafter(wholes * costs, 0), budgets])
    pairs = [(float(a), float(b)) for a, b in zip(near, np.tile(costs, 3), strict=True)]
    pairs += [(0.1 * 3, 0.1), (1.0, 0.1), (-7.5, 2.5), (5.0, -2.0), (2.0**60, 3.0), (0.0, 1.0)]
    mismatches = [(a, b) for a, b in pairs if floor_div(a, b) != a // b]
    assert not mismatches, mismatches[:5]


def test_a_budget_that_is_a_whole_number_of_lots_buys_all_of_them() -> None:
    # 10000 × 0.5 / (1.25 × 1000) is exactly 4 lots; one fewer would be a silent error.
    flat = (1.25, 1.25, 1.25, 1.25)
    data = bars([flat, flat, flat])
    _, result = run(
        data, "L", lotSize=1000, params={"stop_loss": 0, "take_profit": 0, "position_size": 0.5}
    )
    assert result.trades.iloc[0].units == 4000


def test_a_budget_that_buys_no_lot_is_named_before_it_trades_nothing() -> None:
    flat = (1.25, 1.25, 1.25, 1.25)
    data = bars([flat, flat, flat])
    params = {"stop_loss": 0, "take_profit": 0, "position_size": 0.5}
    # 10,000 × 0.5 buys exactly four lots of 1,000 at 1.25, and no lot of 5,000.
    affordable, _ = run(data, "L", lotSize=1000, params=params)
    assert affordable.unaffordable_lot(0.5) is None
    backtester, result = run(data, "L", lotSize=5000, params=params)
    assert result.metrics["num_trades"] == 0
    reason = backtester.unaffordable_lot(0.5)
    assert reason is not None and "position_size 0.5 is 5,000.00" in reason
    assert "one lot of 5000 units costs at least 6,250.00" in reason
