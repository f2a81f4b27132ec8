"""A strategy whose signals are given arrays, for engine tests with hand-made bars."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from itertools import count

import numpy as np
import pandas as pd

from stratopt.backtest.strategies import Parameter, Signals, register
from stratopt.data import MarketData

_names = count()


class Scripted:
    """Signals spelled out bar by bar: 'L' long entry, 'S' short entry, 'x' exit, '.' none."""

    parameters: tuple[Parameter, ...] = ()

    def __init__(self, script: str) -> None:
        self.name = f"scripted_{next(_names)}"
        self.script = script
        register(self)

    def warmup(self, params: Mapping[str, float]) -> int:
        return 0

    def signals(self, data: MarketData, params: Mapping[str, float]) -> Signals:
        script = np.array(list(self.script.ljust(len(data), ".")))
        exits = script == "x"
        return Signals(script == "L", exits, script == "S", exits)


def bars(rows: Sequence[tuple[float, float, float, float]], freq: str = "1h") -> MarketData:
    frame = pd.DataFrame(rows, columns=["open", "high", "low", "close"])
    frame["volume"] = 1000.0
    frame.index = pd.date_range("2024-01-01", periods=len(rows), freq=freq)
    return MarketData.from_frame(frame, pip_size=0.0001, tick_size=0.00001)
