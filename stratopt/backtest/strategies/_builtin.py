"""Built-in strategies: RSI mean reversion, EMA crossover and Donchian breakout."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

import numpy as np

from stratopt.backtest import indicators
from stratopt.backtest.strategies._base import InvalidParameters, Parameter, Signals

if TYPE_CHECKING:
    from stratopt.data import MarketData


def _cached_indicator(data: MarketData, key: tuple[object, ...], compute: object) -> np.ndarray:
    value = data.cached(key, compute)
    assert isinstance(value, np.ndarray)
    return value


def _cross_above(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    previous = np.zeros(len(a), dtype=bool)
    with np.errstate(invalid="ignore"):
        previous[1:] = a[:-1] <= b[:-1]
        return previous & (a > b)


class RsiReversion:
    """Mean reversion on RSI.

    Long when RSI falls below ``rsi_threshold`` (oversold), short when it rises above
    ``100 − rsi_threshold`` (overbought); either position exits when RSI crosses back
    through 50, or on its stop-loss or take-profit.
    """

    name: str = "rsi_reversion"
    parameters: tuple[Parameter, ...] = (
        Parameter("rsi_period", "int", 14, 2, 200, "RSI lookback in bars."),
        Parameter(
            "rsi_threshold", "float", 30, 1, 49, "Oversold level; overbought is 100 minus it."
        ),
    )

    def warmup(self, params: Mapping[str, float]) -> int:
        return int(params["rsi_period"]) + 1

    def signals(self, data: MarketData, params: Mapping[str, float]) -> Signals:
        period = int(params["rsi_period"])
        threshold = float(params["rsi_threshold"])
        rsi = _cached_indicator(data, ("rsi", period), lambda: indicators.rsi(data.close, period))
        with np.errstate(invalid="ignore"):
            return Signals(
                long_entry=rsi < threshold,
                long_exit=rsi > 50.0,
                short_entry=rsi > 100.0 - threshold,
                short_exit=rsi < 50.0,
            )


class EmaCrossover:
    """Trend following, always on the trend's side: long while the fast EMA is above the
    slow one, short while below; each cross closes the position and reverses it."""

    name: str = "ema_crossover"
    parameters: tuple[Parameter, ...] = (
        Parameter("fast_period", "int", 12, 2, 400, "Fast EMA lookback in bars."),
        Parameter("slow_period", "int", 26, 3, 1000, "Slow EMA lookback; must exceed fast_period."),
    )

    def warmup(self, params: Mapping[str, float]) -> int:
        return int(params["slow_period"]) + 1

    def signals(self, data: MarketData, params: Mapping[str, float]) -> Signals:
        fast_period, slow_period = int(params["fast_period"]), int(params["slow_period"])
        if fast_period >= slow_period:
            raise InvalidParameters(
                "spec.backtest.strategy.parameters.fast_period",
                f"must be below slow_period; got {fast_period} >= {slow_period} (in a "
                "search, parameterConstraints: ['fast_period < slow_period'] skips such "
                "combinations)",
            )
        fast = _cached_indicator(
            data, ("ema", fast_period), lambda: indicators.ema(data.close, fast_period)
        )
        slow = _cached_indicator(
            data, ("ema", slow_period), lambda: indicators.ema(data.close, slow_period)
        )
        up = _cross_above(fast, slow)
        down = _cross_above(slow, fast)
        # Entries follow the trend's side, not only its crossing bar: after a cross closes
        # the position, the next bar enters the other way (stop and reverse), and a stop
        # or target is followed by a new entry on the trend's side.
        with np.errstate(invalid="ignore"):
            above, below = fast > slow, fast < slow
        return Signals(long_entry=above, long_exit=down, short_entry=below, short_exit=up)


class DonchianBreakout:
    """Breakout: long above the highest high of the last ``channel`` bars, short below the
    lowest low; exit on the opposite ``exit_channel`` extreme (the Turtle rules)."""

    name: str = "donchian_breakout"
    parameters: tuple[Parameter, ...] = (
        Parameter("channel", "int", 20, 2, 500, "Entry channel lookback in bars."),
        Parameter("exit_channel", "int", 10, 2, 500, "Exit channel lookback in bars."),
    )

    def warmup(self, params: Mapping[str, float]) -> int:
        return int(max(params["channel"], params["exit_channel"])) + 1

    def signals(self, data: MarketData, params: Mapping[str, float]) -> Signals:
        channel, exit_channel = int(params["channel"]), int(params["exit_channel"])

        def previous_extreme(kind: str, values: np.ndarray, period: int) -> np.ndarray:
            def compute() -> np.ndarray:
                extreme = indicators.rolling_max if kind == "max" else indicators.rolling_min
                return indicators.shift(extreme(values, period), 1)

            return _cached_indicator(data, ("donchian", kind, period), compute)

        close = data.close
        with np.errstate(invalid="ignore"):
            return Signals(
                long_entry=close > previous_extreme("max", data.high, channel),
                long_exit=close < previous_extreme("min", data.low, exit_channel),
                short_entry=close < previous_extreme("min", data.low, channel),
                short_exit=close > previous_extreme("max", data.high, exit_channel),
            )
