"""Column normalization and validation of OHLCV frames, with errors that say what to fix."""

from __future__ import annotations

import numpy as np
import pandas as pd

from stratopt.errors import DataError

REQUIRED = ("open", "high", "low", "close")
_TIME_COLUMNS = ("date", "datetime", "timestamp", "time", "gmt time", "local time")
_ALIASES = {"o": "open", "h": "high", "l": "low", "c": "close", "v": "volume", "vol": "volume"}


def normalize_columns(frame: pd.DataFrame, field: str = "data") -> pd.DataFrame:
    """Lower-case OHLCV column names and move the time column into a DatetimeIndex.

    Accepts ``Open``/``open``/``OPEN``, and a ``Date``, ``Datetime``, ``Timestamp`` or
    ``Time`` column (or an existing datetime index). A missing ``volume`` becomes zeros.
    """
    renamed = {column: _canonical(str(column)) for column in frame.columns}
    frame = frame.rename(columns=renamed)
    time_columns = [column for column in frame.columns if column in _TIME_COLUMNS]
    if time_columns:
        frame = frame.set_index(time_columns[0])
    if not isinstance(frame.index, pd.DatetimeIndex):
        try:
            frame.index = pd.to_datetime(frame.index, utc=False)
        except (ValueError, TypeError) as exc:
            raise DataError(
                field,
                "no timestamp found: add a 'date', 'datetime' or 'timestamp' column "
                f"(or a datetime index); columns are {list(frame.columns)}",
            ) from exc
    missing = [name for name in REQUIRED if name not in frame.columns]
    if missing:
        raise DataError(
            field,
            f"missing column(s) {missing}; found {list(frame.columns)}. "
            "Provide open, high, low and close (any capitalization).",
        )
    if "volume" not in frame.columns:
        frame = frame.assign(volume=0.0)
    frame.index.name = "timestamp"
    return frame[[*REQUIRED, "volume"]]


def _canonical(name: str) -> str:
    lowered = name.strip().lower()
    return _ALIASES.get(lowered, lowered)


def validate_ohlcv(frame: pd.DataFrame, field: str = "data", min_bars: int = 2) -> None:
    """Raise :class:`DataError` naming the first problem found, if any.

    Checks: numeric values, no NaN, strictly increasing unique timestamps, positive
    prices, high >= low, and at least ``min_bars`` bars.
    """
    if len(frame) < min_bars:
        raise DataError(field, f"has {len(frame)} bars but at least {min_bars} are needed")
    for name in (*REQUIRED, "volume"):
        if not pd.api.types.is_numeric_dtype(frame[name]):
            raise DataError(field, f"column '{name}' is not numeric (dtype {frame[name].dtype})")
        nan = frame[name].isna().to_numpy()
        if nan.any():
            first = frame.index[int(np.argmax(nan))]
            raise DataError(
                field,
                f"column '{name}' has {int(nan.sum())} NaN value(s), first at {first}; "
                "fill or drop those bars",
            )
    index = frame.index
    if index.has_duplicates:
        first = index[index.duplicated()][0]
        raise DataError(field, f"duplicate timestamp {first}; each bar needs its own timestamp")
    if not index.is_monotonic_increasing:
        position = (
            int(np.argmax(np.diff(np.asarray(index, dtype="datetime64[ns]").view("i8")) < 0)) + 1
        )
        raise DataError(
            field,
            f"timestamps are not sorted (bar {position} at {index[position]} comes before "
            f"{index[position - 1]}); sort the file by time",
        )
    prices = frame[list(REQUIRED)].to_numpy()
    if (prices <= 0).any():
        row = int(np.argmax((prices <= 0).any(axis=1)))
        raise DataError(field, f"non-positive price at {index[row]}; prices must be > 0")
    inverted = (frame["high"] < frame["low"]).to_numpy()
    if inverted.any():
        row = int(np.argmax(inverted))
        raise DataError(
            field,
            f"high < low at {index[row]} (high={frame['high'].iloc[row]}, "
            f"low={frame['low'].iloc[row]}); {int(inverted.sum())} bar(s) affected",
        )
