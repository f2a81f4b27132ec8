"""Loading OHLCV from files, URLs and object stores (via fsspec) or the synthetic source."""

from __future__ import annotations

import contextlib
import io
import os
import urllib.parse
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from stratopt.api.v1alpha1 import DataSpec
from stratopt.data._market import Bars, MarketData
from stratopt.data._sources import (
    SourcePolicy,
    check_regular_file,
    open_web,
    read_bounded,
)
from stratopt.data._synthetic import is_synthetic, synthesize_bars, synthesize_ohlcv
from stratopt.data._validate import (
    ADJUSTED,
    REQUIRED,
    TIME_COLUMNS,
    canonical,
    normalize_columns,
    validate_bars,
    validate_ohlcv,
)
from stratopt.errors import DataError

if TYPE_CHECKING:
    import pandas as pd
    import pyarrow as pa

_PARQUET_SUFFIXES = (".parquet", ".pq", ".parq")
_COMPRESSED = (".gz", ".bz2", ".xz", ".zip", ".zst")


def load_frame(spec: DataSpec, field: str = "spec.backtest.data") -> pd.DataFrame:
    """Read, normalize, slice and validate the bars that ``spec`` names."""
    source = spec.source
    if is_synthetic(source):
        frame = synthesize_ohlcv(source, f"{field}.source")
    else:
        frame = normalize_columns(
            _read(source, spec.format, f"{field}.source"),
            f"{field}.source",
            adjusted=spec.adjusted,
            adjusted_field=f"{field}.adjusted",
            date_format=spec.date_format,
        )
    if len(frame) and (spec.start is not None or spec.end is not None):
        frame = _between(frame, spec, field)
    validate_ohlcv(frame, f"{field}.source")
    return frame


def _bound(value: object, index: pd.DatetimeIndex, field: str) -> pd.Timestamp:
    """``value`` comparable with ``index``: a bound without an offset is read in the
    data's time zone; one with an offset needs data that has one."""
    import pandas as pd

    bound = pd.Timestamp(value)  # type: ignore[arg-type]
    if bound.tzinfo is None and index.tz is not None:
        return bound.tz_localize(index.tz)
    if bound.tzinfo is not None and index.tz is None:
        raise DataError(
            field,
            f"{bound} has a UTC offset but the data's timestamps have none; drop the offset",
        )
    return bound


def _between(frame: pd.DataFrame, spec: DataSpec, field: str) -> pd.DataFrame:
    import pandas as pd

    index = pd.DatetimeIndex(frame.index)
    first, last = index[0], index[-1]
    kept = frame
    if spec.start is not None:
        kept = kept[kept.index >= _bound(spec.start, index, f"{field}.start")]
    if spec.end is not None:
        kept = kept[kept.index <= _bound(spec.end, index, f"{field}.end")]
    if len(kept) < 2:
        blamed = f"{field}.start" if spec.start is not None else f"{field}.end"
        raise DataError(
            blamed,
            f"leaves {len(kept)} bars: the data runs from {first} to {last}; choose "
            "start and end inside that range",
        )
    return kept


def market_data_from_frame(frame: pd.DataFrame, spec: DataSpec, field: str = "data") -> MarketData:
    """Bars a user holds as a DataFrame (OHLC columns in any capitalization, a time
    column or index), checked as a file's are, quoted as ``spec`` says."""
    bars = normalize_columns(
        frame, field, adjusted=spec.adjusted, adjusted_field=f"{field}.adjusted"
    )
    if len(bars) and (spec.start is not None or spec.end is not None):
        bars = _between(bars, spec, field.removesuffix(".source"))
    validate_ohlcv(bars, field)
    return MarketData.from_frame(bars, pip_size=spec.pip_size, tick_size=spec.effective_tick_size)


def load_market_data(spec: DataSpec, field: str = "spec.backtest.data") -> MarketData:
    """Load ``spec`` as :class:`MarketData` ready for the engine."""
    bars: Bars | None = None
    if spec.start is None and spec.end is None:
        if is_synthetic(spec.source):
            bars = synthesize_bars(spec.source, f"{field}.source")
        elif not spec.adjusted and spec.date_format is None:
            bars = _read_plain_bars(spec.source, spec.format, f"{field}.source")
    if bars is not None:
        validate_bars(bars, f"{field}.source")
        return MarketData.from_bars(
            bars, pip_size=spec.pip_size, tick_size=spec.effective_tick_size
        )
    frame = load_frame(spec, field)
    return MarketData.from_frame(frame, pip_size=spec.pip_size, tick_size=spec.effective_tick_size)


def _format(source: str, file_format: str) -> str:
    if file_format != "auto":
        return file_format
    stem = source.lower().split("?")[0].removesuffix(".gz")
    return "parquet" if stem.endswith(_PARQUET_SUFFIXES) else "csv"


def _read_plain_bars(source: str, file_format: str, field: str) -> Bars | None:
    """The bars of a plain local file, read by pyarrow alone: OHLCV columns of numbers
    without gaps and one column of timestamps without a UTC offset. ``None`` for any
    other file, which :func:`load_frame` reads with pandas (and explains what is wrong
    with it): pandas and fsspec take half a second to import, pyarrow's readers a tenth.
    """
    path = Path(source)
    if "://" in source or path.suffix.lower() in _COMPRESSED or not _is_file(path):
        return None
    _allowed(source, field)
    import pyarrow as pa

    try:
        if _format(source, file_format) == "parquet":
            import pyarrow.parquet as pq

            table = pq.read_table(path)
        else:
            import pyarrow.csv as pcsv

            table = pcsv.read_csv(path)
    except (pa.ArrowException, OSError):
        return None
    names = [canonical(name) for name in table.column_names]
    if len(set(names)) < len(names) or any(
        not name or name.startswith(("unnamed", "__index_level")) or name in ADJUSTED
        for name in names
    ):
        return None
    time = next((table.column(i) for i, name in enumerate(names) if name in TIME_COLUMNS), None)
    if time is None or not pa.types.is_timestamp(time.type) or time.type.tz is not None:
        return None
    numbers = {pa.float64(): np.dtype(np.float64), pa.int64(): np.dtype(np.int64)}
    columns = {"volume": np.zeros(table.num_rows)}
    for name in (*REQUIRED, "volume"):
        if name not in names:
            if name in REQUIRED:
                return None
            continue
        column = table.column(names.index(name))
        if column.null_count or column.type not in numbers:
            return None
        columns[name] = _values(column, numbers[column.type]).astype(np.float64)
    stamps = _values(time, np.dtype(f"datetime64[{time.type.unit}]"))
    # pandas reads timestamps to microseconds at least; so do these.
    if time.type.unit in ("s", "ms"):
        stamps = stamps.astype("datetime64[us]")
    return Bars(timestamps=stamps, **columns)


def _is_file(path: Path) -> bool:
    """Whether ``path`` is a regular file; a name too long or with a NUL is not one."""
    try:
        return path.is_file()
    except (OSError, ValueError):
        return False


def _values(column: pa.ChunkedArray, dtype: np.dtype) -> np.ndarray:
    """A column without nulls as one numpy array, copied from its buffers: pyarrow's
    own ``to_numpy`` imports pandas."""
    parts = [
        np.frombuffer(
            chunk.buffers()[1], dtype=dtype, count=len(chunk), offset=chunk.offset * dtype.itemsize
        )
        for chunk in column.chunks
    ]
    return np.concatenate(parts) if parts else np.empty(0, dtype)


def _allowed(source: str, field: str) -> SourcePolicy:
    """The policy of this process (see :mod:`stratopt.data._sources`), after checking
    that ``source`` is allowed and, when local, a regular file within its size bound."""
    policy = SourcePolicy.from_environment()
    policy.check(source, field)
    if "://" not in source and "::" not in source:
        check_regular_file(source, field)
        with contextlib.suppress(OSError):
            if os.stat(source).st_size > policy.max_bytes:
                raise DataError(
                    field,
                    f"holds more than {policy.max_bytes:,} bytes; use a smaller file, or "
                    "raise STRATOPT_MAX_DATA_BYTES",
                )
    return policy


def _fetch(source: str, policy: SourcePolicy, field: str) -> io.BytesIO:
    """The bytes of ``source``, decompressed and bounded: HTTP(S) through
    :func:`open_web` (its redirects checked), anything else through fsspec."""
    import fsspec
    from fsspec.compression import compr
    from fsspec.utils import infer_compression

    if source.lower().startswith(("http://", "https://")):
        compression = infer_compression(urllib.parse.urlsplit(source).path)
        with open_web(source, policy, field) as response:
            handle = compr[compression](response, mode="rb") if compression else response
            return io.BytesIO(read_bounded(handle, policy.max_bytes, field))
    with fsspec.open(source, "rb", compression="infer") as handle:
        return io.BytesIO(read_bounded(handle, policy.max_bytes, field))


def _read(source: str, file_format: str, field: str) -> pd.DataFrame:
    import pandas as pd

    file_format = _format(source, file_format)
    policy = _allowed(source, field)
    try:
        data = _fetch(source, policy, field)
        if file_format == "parquet":
            return pd.read_parquet(data)
        frame = pd.read_csv(data)
    except FileNotFoundError as exc:
        raise DataError(field, f"file not found: {source}; check the path or URL") from exc
    except ImportError as exc:
        raise DataError(
            field, f"cannot open {source}: {exc}. Install stratopt[cloud] for s3:// and gs://"
        ) from exc
    except UnicodeDecodeError as exc:
        raise DataError(
            field, f"cannot read {source} as {file_format}: it is not text (binary content)"
        ) from exc
    except (ValueError, OSError, EOFError) as exc:
        raise DataError(field, f"cannot read {source} as {file_format}: {exc}") from exc
    except MemoryError as exc:
        raise DataError(field, f"{source} is too large to read into memory") from exc
    # A CSV whose first column is an unnamed index (as pandas writes them) holds the time.
    first = str(frame.columns[0])
    if first.startswith("Unnamed") or first == "":
        frame = frame.set_index(frame.columns[0])
    return frame
