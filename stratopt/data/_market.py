"""The in-memory market data every evaluation reads: contiguous float64 arrays."""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import tzinfo
from functools import cached_property
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

if TYPE_CHECKING:
    import pandas as pd

FloatArray = npt.NDArray[np.float64]

_SECONDS_PER_YEAR = 365.25 * 24 * 3600
#: Bytes of derived arrays (indicators, signals) each process keeps per data set: enough
#: for every indicator of a search over its lookbacks, bounded however long it runs.
CACHE_BYTES = 64 * 2**20


def _nbytes(value: object) -> int:
    if isinstance(value, np.ndarray):
        return int(value.nbytes)
    if isinstance(value, tuple):
        return sum(_nbytes(v) for v in value)
    return 0


class _BoundedCache:
    """Least-recently-used values, evicted when their arrays exceed ``limit`` bytes."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.size = 0
        self._values: OrderedDict[object, tuple[object, int]] = OrderedDict()

    def get(self, key: object) -> object | None:
        entry = self._values.get(key)
        if entry is None:
            return None
        self._values.move_to_end(key)
        return entry[0]

    def put(self, key: object, value: object) -> None:
        size = _nbytes(value)
        if size > self.limit:
            return
        self._values[key] = (value, size)
        self.size += size
        while self.size > self.limit:
            _, (_, evicted) = self._values.popitem(last=False)
            self.size -= evicted

    def __len__(self) -> int:
        return len(self._values)


@dataclass(frozen=True, eq=False)  # arrays have no one truth value: identity it is
class Bars:
    """OHLCV as plain arrays, timestamps as ``datetime64``: what synthesis makes."""

    timestamps: npt.NDArray[np.datetime64]
    open: FloatArray
    high: FloatArray
    low: FloatArray
    close: FloatArray
    volume: FloatArray

    def columns(self) -> dict[str, FloatArray]:
        return {
            "open": self.open,
            "high": self.high,
            "low": self.low,
            "close": self.close,
            "volume": self.volume,
        }


@dataclass(frozen=True, eq=False)
class MarketData(Bars):
    """Validated OHLCV bars, and how the instrument is quoted.

    Arrays are C-contiguous float64 so the compiled engine reads them without copies.
    ``periods_per_year`` is measured from the timestamps (bars actually present per
    calendar year), so weekends and holidays need no special casing. Timestamps are
    ``datetime64`` (UTC when ``tz`` is set); pandas, a third of a second to import, is
    loaded only by what asks for :attr:`index`.
    """

    pip_size: float = 0.0001
    tick_size: float = 0.00001
    tz: tzinfo | None = None
    _cache: _BoundedCache = field(
        default_factory=lambda: _BoundedCache(CACHE_BYTES), repr=False, compare=False
    )

    @classmethod
    def from_frame(cls, frame: pd.DataFrame, *, pip_size: float, tick_size: float) -> MarketData:
        """Build from a normalized, validated frame with open/high/low/close/volume columns."""

        import pandas as pd

        def column(name: str) -> FloatArray:
            return np.ascontiguousarray(frame[name].to_numpy(dtype=np.float64))

        index = pd.DatetimeIndex(frame.index)
        data = cls(
            timestamps=(index if index.tz is None else index.tz_convert(None)).to_numpy(),
            open=column("open"),
            high=column("high"),
            low=column("low"),
            close=column("close"),
            volume=column("volume"),
            pip_size=pip_size,
            tick_size=tick_size,
            tz=index.tz,
        )
        vars(data)["index"] = index  # the frame's own, not rebuilt on first use
        return data

    @classmethod
    def from_bars(cls, bars: Bars, *, pip_size: float, tick_size: float) -> MarketData:
        """Build from validated arrays (naive timestamps)."""
        return cls(
            timestamps=bars.timestamps,
            open=np.ascontiguousarray(bars.open, dtype=np.float64),
            high=np.ascontiguousarray(bars.high, dtype=np.float64),
            low=np.ascontiguousarray(bars.low, dtype=np.float64),
            close=np.ascontiguousarray(bars.close, dtype=np.float64),
            volume=np.ascontiguousarray(bars.volume, dtype=np.float64),
            pip_size=pip_size,
            tick_size=tick_size,
        )

    @cached_property
    def index(self) -> pd.DatetimeIndex:
        """The timestamps as a pandas index (in ``tz`` when the data has one)."""
        import pandas as pd

        index = pd.DatetimeIndex(self.timestamps, name="timestamp")
        return index if self.tz is None else index.tz_localize("UTC").tz_convert(self.tz)

    @cached_property
    def has_volume(self) -> bool:
        """Whether the bars carry volume: a missing or empty column is read as zeros."""
        return bool(np.any(self.volume))

    def seconds_between(self, first: int, last: int) -> float:
        """Seconds from bar ``first`` to bar ``last``."""
        return float((self.timestamps[last] - self.timestamps[first]) / np.timedelta64(1, "s"))

    def __len__(self) -> int:
        return len(self.close)

    @property
    def years(self) -> float:
        """Calendar span of the data in years."""
        if len(self.timestamps) < 2:
            return 0.0
        return self.seconds_between(0, -1) / _SECONDS_PER_YEAR

    @property
    def periods_per_year(self) -> float:
        """Bars per calendar year, used to annualize Sharpe and Sortino ratios."""
        years = self.years
        return (len(self) - 1) / years if years > 0 else 252.0

    def slice(self, start: int, stop: int) -> MarketData:
        """Bars ``start:stop`` as a new object with its own indicator cache."""
        return MarketData(
            timestamps=self.timestamps[start:stop],
            open=self.open[start:stop],
            high=self.high[start:stop],
            low=self.low[start:stop],
            close=self.close[start:stop],
            volume=self.volume[start:stop],
            pip_size=self.pip_size,
            tick_size=self.tick_size,
            tz=self.tz,
        )

    def cached(self, key: object, compute: object) -> object:
        """Memoize a value derived from these bars (indicators, signals).

        Indicators that do not depend on searched parameters are computed once per data
        set this way, not once per evaluation; the least recently used go first once the
        cache holds :data:`CACHE_BYTES`.
        """
        value = self._cache.get(key)
        if value is None:
            assert callable(compute)
            value = compute()
            self._cache.put(key, value)
        return value

    def to_frame(self) -> pd.DataFrame:
        """The bars as a DataFrame with lower-case OHLCV columns."""
        import pandas as pd

        return pd.DataFrame(self.columns(), index=self.index)
