"""Built-in strategies' signals, the registry, and user strategies from entry points."""

from __future__ import annotations

import numpy as np
import pytest

from stratopt.backtest import Backtester, indicators
from stratopt.backtest.strategies import available_strategies, get_strategy, resolve_parameters
from stratopt.data import MarketData
from stratopt.errors import InputError
from tests.conftest import backtest_spec


def test_builtins_are_registered_and_declare_parameters() -> None:
    assert {"rsi_reversion", "ema_crossover", "donchian_breakout"} <= set(available_strategies())
    rsi = get_strategy("rsi_reversion")
    assert [p.name for p in rsi.parameters] == ["rsi_period", "rsi_threshold"]
    assert resolve_parameters(rsi, {})["rsi_threshold"] == 30


def test_rsi_reversion_thresholds(synthetic_hourly: MarketData) -> None:
    params = resolve_parameters(get_strategy("rsi_reversion"), {"rsi_threshold": 25})
    signals = get_strategy("rsi_reversion").signals(synthetic_hourly, params)
    rsi = indicators.rsi(synthetic_hourly.close, 14)
    np.testing.assert_array_equal(signals.long_entry, np.nan_to_num(rsi, nan=50) < 25)
    np.testing.assert_array_equal(signals.short_entry, np.nan_to_num(rsi, nan=50) > 75)
    assert signals.long_entry.sum() > 100 and signals.short_entry.sum() > 100


def test_ema_crossover_and_donchian_trade(synthetic_hourly: MarketData) -> None:
    for name in ("ema_crossover", "donchian_breakout"):
        result = Backtester(backtest_spec(strategy={"name": name}), synthetic_hourly).run()
        assert result.metrics["num_trades"] > 50, name
    with pytest.raises(InputError, match="must be below slow_period"):
        Backtester(
            backtest_spec(
                strategy={
                    "name": "ema_crossover",
                    "parameters": {"fast_period": 30, "slow_period": 20},
                }
            ),
            synthetic_hourly,
        ).evaluate()


def test_signals_never_look_ahead(synthetic_hourly: MarketData) -> None:
    for name in ("rsi_reversion", "ema_crossover", "donchian_breakout"):
        strategy = get_strategy(name)
        params = resolve_parameters(strategy, {})
        full = strategy.signals(synthetic_hourly, params)
        cut = strategy.signals(synthetic_hourly.slice(0, 7000), params)
        for a, b in zip(full, cut, strict=True):
            np.testing.assert_array_equal(a[:7000], b)


def test_user_strategy_from_entry_point(synthetic_hourly: MarketData) -> None:
    spec = backtest_spec(
        strategy={"name": "tests.user_strategies.momentum:Momentum", "parameters": {"lookback": 24}}
    )
    result = Backtester(spec, synthetic_hourly).run()
    assert result.metrics["num_trades"] > 10
    assert result.parameters["lookback"] == 24


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("no_such_strategy", "unknown strategy 'no_such_strategy'"),
        ("tests.user_strategies.absent:X", "cannot import module"),
        ("tests.user_strategies.momentum:Missing", "has no attribute 'Missing'"),
        ("tests.user_strategies.momentum:NOT_A_STRATEGY", "is not a strategy"),
    ],
)
def test_bad_strategy_names(name: str, message: str) -> None:
    with pytest.raises(InputError, match=message) as caught:
        get_strategy(name)
    assert caught.value.field == "spec.backtest.strategy.name"
