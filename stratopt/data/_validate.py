"""Column normalization and validation of OHLCV frames, with errors that say what to fix."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

from stratopt.errors import DataError, DataNotice

REQUIRED = ("open", "high", "low", "close")
_TIME_COLUMNS = ("date", "datetime", "timestamp", "time", "gmt time", "local time")
_ALIASES = {"o": "open", "h": "high", "l": "low", "c": "close", "v": "volume", "vol": "volume"}


_ADJUSTED = ("adj close", "adj_close", "adjclose", "adjusted close", "adjusted_close")


def normalize_columns(
    frame: pd.DataFrame,
    field: str = "data",
    *,
    adjusted: bool = False,
    adjusted_field: str = "data.adjusted",
) -> pd.DataFrame:
    """Lower-case OHLCV column names and move the time column into a DatetimeIndex.

    Accepts ``Open``/``open``/``OPEN``, and a ``Date``, ``Datetime``, ``Timestamp`` or
    ``Time`` column (or an existing datetime index). A missing ``volume`` becomes zeros.
    """
    renamed = {column: _canonical(str(column)) for column in frame.columns}
    frame = frame.rename(columns=renamed)
    time_columns = [column for column in frame.columns if column in _TIME_COLUMNS]
    if time_columns:
        frame = frame.set_index(time_columns[0])
    elif isinstance(frame.index, pd.RangeIndex):
        # Row numbers are no time: read as nanoseconds they would put every bar in 1970.
        raise DataError(
            field,
            "no timestamp column found: add a 'date', 'datetime' or 'timestamp' column; "
            f"columns are {list(frame.columns)}",
        )
    frame.index = _timestamps(frame.index, time_columns[0] if time_columns else None, field)
    missing = [name for name in REQUIRED if name not in frame.columns]
    if missing:
        raise DataError(
            field,
            f"missing column(s) {missing}; found {list(frame.columns)}. "
            "Provide open, high, low and close (any capitalization).",
        )
    adjusted_column = next((c for c in frame.columns if c in _ADJUSTED), None)
    if adjusted:
        if adjusted_column is None:
            raise DataError(
                adjusted_field,
                f"is true but the file has no 'Adj Close' column; columns are "
                f"{list(frame.columns)}",
            )
        factor = frame[adjusted_column] / frame["close"]
        frame = frame.assign(
            **{name: frame[name] * factor for name in ("open", "high", "low")},
            close=frame[adjusted_column],
        )
    elif adjusted_column is not None:
        warnings.warn(
            f"{field}: trading the unadjusted 'Close'; set {adjusted_field}: true to "
            "trade 'Adj Close' (splits and dividends)",
            DataNotice,
            stacklevel=2,
        )
    if "volume" not in frame.columns:
        frame = frame.assign(volume=0.0)
    frame.index.name = "timestamp"
    return frame[[*REQUIRED, "volume"]]


_DATE_EXAMPLE = "write them like 2024-01-31 or 2024-01-31 09:30:00+00:00"


def _timestamps(values: pd.Index, column: str | None, field: str) -> pd.DatetimeIndex:
    """``values`` as timestamps, or an error naming the cause: numbers, a value that is
    no date, or UTC offsets that differ."""
    where = f"column '{column}'" if column else "the index"
    if isinstance(values, pd.DatetimeIndex):
        return values
    if pd.api.types.is_numeric_dtype(values) or pd.api.types.is_bool_dtype(values):
        raise DataError(
            field, f"{where} holds numbers, not timestamps (first {values[0]!r}); {_DATE_EXAMPLE}"
        )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # pandas guessing day-first formats
        try:
            return pd.DatetimeIndex(pd.to_datetime(values))
        except (ValueError, TypeError) as exc:
            failure = exc
        if "Mixed timezones" in str(failure):
            offsets = sorted({str(v)[-6:] for v in values if str(v)[-6:-5] in "+-"})
            raise DataError(
                field,
                f"{where} mixes UTC offsets ({', '.join(offsets[:3])}); convert the "
                "timestamps to UTC or give them one offset",
            ) from failure
        for row, value in enumerate(values):
            if pd.isna(pd.to_datetime(value, errors="coerce")):
                raise DataError(
                    field,
                    f"{where} has a value that is not a date: {value!r} (row {row + 1}); "
                    f"{_DATE_EXAMPLE}",
                ) from failure
    raise DataError(
        field, f"{where} cannot be read as timestamps ({failure}); {_DATE_EXAMPLE}"
    ) from failure


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
