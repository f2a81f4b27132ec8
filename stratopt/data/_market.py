"""The in-memory market data every evaluation reads: contiguous float64 arrays."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt
import pandas as pd

FloatArray = npt.NDArray[np.float64]

_SECONDS_PER_YEAR = 365.25 * 24 * 3600


@dataclass(frozen=True, eq=False)
class MarketData:
    """Validated OHLCV bars.

    Arrays are C-contiguous float64 so the compiled engine reads them without copies.
    ``periods_per_year`` is measured from the timestamps (bars actually present per
    calendar year), so weekends and holidays need no special casing.
    """

    index: pd.DatetimeIndex
    open: FloatArray
    high: FloatArray
    low: FloatArray
    close: FloatArray
    volume: FloatArray
    pip_size: float = 0.0001
    tick_size: float = 0.00001
    _cache: dict[object, object] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_frame(cls, frame: pd.DataFrame, *, pip_size: float, tick_size: float) -> MarketData:
        """Build from a normalized, validated frame with open/high/low/close/volume columns."""

        def column(name: str) -> FloatArray:
            return np.ascontiguousarray(frame[name].to_numpy(dtype=np.float64))

        index = pd.DatetimeIndex(frame.index)
        return cls(
            index=index,
            open=column("open"),
            high=column("high"),
            low=column("low"),
            close=column("close"),
            volume=column("volume"),
            pip_size=pip_size,
            tick_size=tick_size,
        )

    def __len__(self) -> int:
        return len(self.close)

    @property
    def years(self) -> float:
        """Calendar span of the data in years."""
        if len(self.index) < 2:
            return 0.0
        span = (self.index[-1] - self.index[0]).total_seconds()
        return float(span / _SECONDS_PER_YEAR)

    @property
    def periods_per_year(self) -> float:
        """Bars per calendar year, used to annualize Sharpe and Sortino ratios."""
        years = self.years
        return (len(self) - 1) / years if years > 0 else 252.0

    def slice(self, start: int, stop: int) -> MarketData:
        """Bars ``start:stop`` as a new object with its own indicator cache."""
        return MarketData(
            index=self.index[start:stop],
            open=self.open[start:stop],
            high=self.high[start:stop],
            low=self.low[start:stop],
            close=self.close[start:stop],
            volume=self.volume[start:stop],
            pip_size=self.pip_size,
            tick_size=self.tick_size,
        )

    def cached(self, key: object, compute: object) -> object:
        """Memoize a value derived from these bars (indicators, signals).

        Indicators that do not depend on searched parameters are computed once per data
        set this way, not once per evaluation.
        """
        try:
            return self._cache[key]
        except KeyError:
            assert callable(compute)
            value = compute()
            self._cache[key] = value
            return value

    def to_frame(self) -> pd.DataFrame:
        """The bars as a DataFrame with lower-case OHLCV columns."""
        return pd.DataFrame(
            {
                "open": self.open,
                "high": self.high,
                "low": self.low,
                "close": self.close,
                "volume": self.volume,
            },
            index=self.index,
        )
