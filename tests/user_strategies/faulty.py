"""User strategies that go wrong in the ways users' code does, for the bad-input tests."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from stratopt.backtest.strategies import Parameter, Signals
from stratopt.data import MarketData


class _Base:
    name = "faulty"
    parameters = (Parameter("lookback", "int", 5, 2, 50, "Bars looked back."),)

    def warmup(self, params: Mapping[str, float]) -> int:
        return int(params["lookback"])

    def arrays(self, data: MarketData) -> list[np.ndarray]:
        rising = np.concatenate(([False], np.diff(data.close) > 0))
        return [rising, ~rising, ~rising, rising]


class Raises(_Base):
    def signals(self, data: MarketData, params: Mapping[str, float]) -> Signals:
        raise ValueError("lookback window is empty")


class ShortSignals(_Base):
    def signals(self, data: MarketData, params: Mapping[str, float]) -> Signals:
        return Signals(*(a[:-10] for a in self.arrays(data)))


class NanSignals(_Base):
    def signals(self, data: MarketData, params: Mapping[str, float]) -> Signals:
        long_entry, *rest = self.arrays(data)
        with_nan = long_entry.astype(float)
        with_nan[:20] = np.nan
        return Signals(with_nan, *rest)  # type: ignore[arg-type]


class FloatSignals(_Base):
    def signals(self, data: MarketData, params: Mapping[str, float]) -> Signals:
        return Signals(*(a * 0.5 for a in self.arrays(data)))  # type: ignore[arg-type]


class ListSignals(_Base):
    def signals(self, data: MarketData, params: Mapping[str, float]) -> Any:
        return self.arrays(data)


class Never(_Base):
    """Valid signals that never enter."""

    def signals(self, data: MarketData, params: Mapping[str, float]) -> Signals:
        never = np.zeros(len(data), dtype=bool)
        return Signals(never, never, never, never)


class NeedsArguments(Never):
    """A strategy in every way but that it cannot be built without arguments."""

    def __init__(self, lookback: int) -> None:
        self.lookback = lookback
