"""Column normalization and validation of OHLCV frames, with errors that say what to fix."""

from __future__ import annotations

import warnings
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING

import numpy as np

from stratopt.data._market import Bars
from stratopt.errors import DataError, DataNotice

if TYPE_CHECKING:
    import pandas as pd

REQUIRED = ("open", "high", "low", "close")
TIME_COLUMNS = ("date", "datetime", "timestamp", "time", "gmt time", "local time")
_ALIASES = {"o": "open", "h": "high", "l": "low", "c": "close", "v": "volume", "vol": "volume"}


ADJUSTED = ("adj close", "adj_close", "adjclose", "adjusted close", "adjusted_close")


def normalize_columns(
    frame: pd.DataFrame,
    field: str = "data",
    *,
    adjusted: bool = False,
    adjusted_field: str = "data.adjusted",
    date_format: str | None = None,
) -> pd.DataFrame:
    """Lower-case OHLCV column names and move the time column into a DatetimeIndex.

    Accepts ``Open``/``open``/``OPEN``, and a ``Date``, ``Datetime``, ``Timestamp`` or
    ``Time`` column (or an existing datetime index). A missing ``volume`` becomes zeros.
    """
    import pandas as pd

    renamed = {column: canonical(str(column)) for column in frame.columns}
    clashing = sorted({n for n in renamed.values() if list(renamed.values()).count(n) > 1})
    if clashing:
        raise DataError(
            field,
            f"has several columns named {clashing[0]!r} (in any capitalization or "
            "abbreviation); keep one",
        )
    frame = frame.rename(columns=renamed)
    time_columns = [column for column in frame.columns if column in TIME_COLUMNS]
    if time_columns:
        frame = frame.set_index(time_columns[0])
    elif isinstance(frame.index, pd.RangeIndex):
        # Row numbers are no time: read as nanoseconds they would put every bar in 1970.
        raise DataError(
            field,
            "no timestamp column found: add a 'date', 'datetime' or 'timestamp' column; "
            f"the file has {shown_columns(frame.columns)}",
        )
    frame.index = _timestamps(
        frame.index, time_columns[0] if time_columns else None, field, date_format
    )
    missing = [name for name in REQUIRED if name not in frame.columns]
    if missing:
        raise DataError(
            field,
            f"missing column(s) {missing}; the file has {shown_columns(frame.columns)}. "
            "Provide open, high, low and close (any capitalization).",
        )
    adjusted_column = next((c for c in frame.columns if c in ADJUSTED), None)
    if adjusted:
        if adjusted_column is None:
            raise DataError(
                adjusted_field,
                f"is true but the file has no 'Adj Close' column; it has "
                f"{shown_columns(frame.columns)}",
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
    if "volume" in frame.columns and frame["volume"].isna().all():
        frame = frame.drop(columns="volume")  # an empty column: no volume, as if missing
    if "volume" not in frame.columns:
        frame = frame.assign(volume=0.0)
    frame.index.name = "timestamp"
    return frame[[*REQUIRED, "volume"]]


_DATE_EXAMPLE = (
    "write them like 2024-01-31 or 2024-01-31 09:30:00+00:00, or give their format as "
    "data.dateFormat (e.g. '%d/%m/%Y' for 31/12/2018)"
)


def _timestamps(
    values: pd.Index, column: str | None, field: str, date_format: str | None = None
) -> pd.DatetimeIndex:
    """``values`` as timestamps (in UTC when their UTC offsets differ), read with
    ``date_format`` when given, or an error naming the cause: numbers, a value that is
    no date, dates whose format pandas cannot tell (naming dateFormat)."""
    import pandas as pd

    where = f"column {shown_value(column)}" if column else "the index"
    if isinstance(values, pd.DatetimeIndex):
        return values
    if date_format is not None:
        parsed = pd.to_datetime(values, format=date_format, errors="coerce")
        if parsed.isna().any():
            row = int(parsed.isna().argmax())
            raise DataError(
                f"{field.removesuffix('.source')}.dateFormat",
                f"{shown_value(date_format)} does not read {where}'s value "
                f"{shown_value(values[row])} (row {row + 1}); use strftime codes such as "
                "'%d/%m/%Y %H:%M'",
            )
        return pd.DatetimeIndex(parsed)
    if pd.api.types.is_numeric_dtype(values) or pd.api.types.is_bool_dtype(values):
        raise DataError(
            field,
            f"{where} holds numbers, not timestamps (first {shown_value(values[0])}); "
            f"{_DATE_EXAMPLE}",
        )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # pandas guessing day-first formats
        try:
            return pd.DatetimeIndex(pd.to_datetime(values))
        except (ValueError, TypeError) as exc:
            failure = exc
        if "Mixed timezones" in str(failure):
            # Every value has an offset (pandas refuses offsets mixed with none another
            # way), e.g. local time across a daylight-saving change: they are instants,
            # and in UTC they keep their order and spacing.
            return pd.DatetimeIndex(pd.to_datetime(values, utc=True))
        for row, value in enumerate(values):
            if pd.isna(pd.to_datetime(value, errors="coerce")):
                raise DataError(
                    field,
                    f"{where} has a value that is not a date: {shown_value(value)} (row "
                    f"{row + 1}); "
                    f"{_DATE_EXAMPLE}",
                ) from failure
    raise DataError(field, f"{where} cannot be read as timestamps; {_DATE_EXAMPLE}") from failure


#: Longest column name or value an error quotes; anything longer, or not printable, is
#: described instead: a file that is no price data may hold secrets.
QUOTABLE = 40
#: Most column names an error lists.
LISTED_COLUMNS = 12


def shown_value(value: object) -> str:
    """``value`` as an error may quote it: short and printable, else only what it is."""
    text = str(value)
    if len(text) <= QUOTABLE and text.isprintable():
        return repr(value) if isinstance(value, str) else text
    return f"a value of {len(text)} characters (not shown)"


def shown_columns(columns: object) -> str:
    """A file's column names as an error may list them: only when the file looks like a
    table of prices (one name at least is a price or time column) and every name is
    short and printable; else how many there are."""
    names = [str(c) for c in columns]  # type: ignore[attr-defined]
    known = {*REQUIRED, "volume", *TIME_COLUMNS, *ADJUSTED}
    printable = all(len(n) <= QUOTABLE and n.isprintable() for n in names)
    if printable and any(canonical(n) in known for n in names):
        listed = names[:LISTED_COLUMNS]
        more = f" and {len(names) - LISTED_COLUMNS} more" if len(names) > LISTED_COLUMNS else ""
        return f"columns {listed}{more}"
    count = f"{len(names)} column{'s' if len(names) != 1 else ''}"
    return f"{count}, none named like prices or times (names not shown)"


def canonical(name: str) -> str:
    lowered = name.strip().lower()
    return _ALIASES.get(lowered, lowered)


def validate_ohlcv(frame: pd.DataFrame, field: str = "data", min_bars: int = 2) -> None:
    """Raise :class:`DataError` naming the first problem found, if any.

    Checks: numeric values, no NaN, strictly increasing unique timestamps, positive
    prices, low <= open, close <= high, and at least ``min_bars`` bars.
    """
    import pandas as pd

    if len(frame) < min_bars:
        raise DataError(field, f"has {len(frame)} bars but at least {min_bars} are needed")
    for name in (*REQUIRED, "volume"):
        if not pd.api.types.is_numeric_dtype(frame[name]):
            raise DataError(field, _not_numeric(frame, name))
    index = frame.index
    check_bars(
        np.asarray(pd.DatetimeIndex(index).asi8),
        {name: frame[name].to_numpy(dtype=np.float64) for name in (*REQUIRED, "volume")},
        field,
        lambda row: str(index[row]),
        min_bars,
    )


def _not_numeric(frame: pd.DataFrame, name: str) -> str:
    """Why column ``name`` is not numeric: its first value that is not a number."""
    import pandas as pd

    column = frame[name]
    parsed = pd.to_numeric(column, errors="coerce")
    bad = parsed.isna() & column.notna()
    if not bad.any():
        return f"column '{name}' is not numeric (dtype {column.dtype})"
    row = int(np.argmax(bad.to_numpy()))
    return (
        f"column '{name}' is not numeric: {shown_value(column.iloc[row])} at "
        f"{shown_value(frame.index[row])} "
        f"({int(bad.sum())} such value(s)); write plain numbers, with '.' as the decimal "
        "point and no thousands separators"
    )


def validate_bars(bars: Bars, field: str = "data", min_bars: int = 2) -> None:
    """:func:`validate_ohlcv` for arrays."""

    def at(row: int) -> str:
        import pandas as pd

        return str(pd.Timestamp(bars.timestamps[row]))

    check_bars(bars.timestamps.astype(np.int64), bars.columns(), field, at, min_bars)


def check_bars(
    times: np.ndarray,
    columns: Mapping[str, np.ndarray],
    field: str,
    at: Callable[[int], str],
    min_bars: int = 2,
) -> None:
    """The checks of :func:`validate_ohlcv` on integer times and float columns; ``at``
    names a row's time in messages."""
    if len(times) < min_bars:
        raise DataError(field, f"has {len(times)} bars but at least {min_bars} are needed")
    for name in (*REQUIRED, "volume"):
        nan = np.isnan(columns[name])
        if nan.any():
            raise DataError(
                field,
                f"column '{name}' has {int(nan.sum())} NaN value(s), first at "
                f"{at(int(np.argmax(nan)))}; fill or drop those bars",
            )
    steps = np.diff(times)
    if (steps <= 0).any():
        _, first_seen = np.unique(times, return_index=True)
        repeated = np.ones(len(times), dtype=bool)
        repeated[first_seen] = False
        if repeated.any():
            raise DataError(
                field,
                f"duplicate timestamp {at(int(np.argmax(repeated)))}; each bar needs its own "
                "timestamp",
            )
        position = int(np.argmax(steps < 0)) + 1
        raise DataError(
            field,
            f"timestamps are not sorted (bar {position} at {at(position)} comes before "
            f"{at(position - 1)}); sort the file by time",
        )
    prices = np.column_stack([columns[name] for name in REQUIRED])
    if (prices <= 0).any():
        row = int(np.argmax((prices <= 0).any(axis=1)))
        raise DataError(field, f"non-positive price at {at(row)}; prices must be > 0")
    inverted = columns["high"] < columns["low"]
    if inverted.any():
        row = int(np.argmax(inverted))
        raise DataError(
            field,
            f"high < low at {at(row)} (high={columns['high'][row]}, "
            f"low={columns['low'][row]}); {int(inverted.sum())} bar(s) affected",
        )
    # Stops and targets are checked against high and low, fills and marks use open and
    # close: a bar whose open or close lies outside its range would fill or mark at
    # prices the stops never saw.
    for name in ("open", "close"):
        outside = (columns[name] > columns["high"]) | (columns[name] < columns["low"])
        if outside.any():
            row = int(np.argmax(outside))
            raise DataError(
                field,
                f"{name} outside the bar's low-high range at {at(row)} ({name}="
                f"{columns[name][row]}, low={columns['low'][row]}, high="
                f"{columns['high'][row]}); {int(outside.sum())} bar(s) affected: fix or drop "
                "them",
            )
