"""User strategies that are wrong in ways their results cannot show: the probes' cases."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from stratopt.backtest import indicators
from stratopt.backtest.strategies import Parameter, Signals
from stratopt.data import MarketData


class PeeksAhead:
    """Buys when the next bar closes higher: reads the next bar's close."""

    name = "peeks_ahead"
    parameters = (Parameter("lookback", "int", 5, 2, 50, "Unused."),)

    def warmup(self, params: Mapping[str, float]) -> int:
        return 1

    def signals(self, data: MarketData, params: Mapping[str, float]) -> Signals:
        following = np.append(data.close[1:], data.close[-1])  # shift(-1)
        rising = following > data.close
        return Signals(rising, ~rising, ~rising, rising)


class LongMemory:
    """Trades the side of a 100-bar average but declares a warm-up of 5 bars."""

    name = "long_memory"
    parameters = (Parameter("lookback", "int", 100, 50, 200, "Average's lookback."),)

    def warmup(self, params: Mapping[str, float]) -> int:
        return 5

    def signals(self, data: MarketData, params: Mapping[str, float]) -> Signals:
        average = indicators.sma(data.close, int(params["lookback"]))
        with np.errstate(invalid="ignore"):
            above, below = data.close > average, data.close < average
        return Signals(above, below, below, above)


class Exits:
    """Ends the process from signals(), with status 0."""

    name = "exits"
    parameters = (Parameter("lookback", "int", 5, 2, 50, "Unused."),)

    def warmup(self, params: Mapping[str, float]) -> int:
        return 1

    def signals(self, data: MarketData, params: Mapping[str, float]) -> Signals:
        raise SystemExit(0)


class Interrupts(Exits):
    """Interrupts itself while it warms up."""

    def warmup(self, params: Mapping[str, float]) -> int:
        raise KeyboardInterrupt


class BadlyNamed(Exits):
    name = 42  # type: ignore[assignment]

    def signals(self, data: MarketData, params: Mapping[str, float]) -> Signals:
        never = np.zeros(len(data), dtype=bool)
        return Signals(never, never, never, never)


class LeavesATrace:
    """No strategy (no signals), but building it would leave a file behind."""

    name = "trace"
    parameters = ()

    def __init__(self) -> None:
        import os

        open(os.environ["STRATOPT_TEST_TRACE"], "w").close()

    def warmup(self, params: Mapping[str, float]) -> int:
        return 0


class SleepsForever(Exits):
    """Never returns from signals()."""

    def signals(self, data: MarketData, params: Mapping[str, float]) -> Signals:
        import time

        time.sleep(3600)
        raise AssertionError("unreachable")


class OddlyNamed:
    """A parameter whose name a terminal library would read as markup."""

    name = "oddly_named"
    parameters = (Parameter("[/x]", "int", 5, 2, 50, "Bars looked back."),)

    def warmup(self, params: Mapping[str, float]) -> int:
        return int(params["[/x]"])

    def signals(self, data: MarketData, params: Mapping[str, float]) -> Signals:
        rising = np.zeros(len(data), dtype=bool)
        rising[1:] = data.close[1:] > data.close[:-1]
        return Signals(rising, ~rising, ~rising, rising)
