"""Loading OHLCV from files, URLs and object stores (via fsspec) or the synthetic source."""

from __future__ import annotations

from typing import TYPE_CHECKING

from stratopt.api.v1alpha1 import DataSpec
from stratopt.data._market import MarketData
from stratopt.data._synthetic import is_synthetic, synthesize_bars, synthesize_ohlcv
from stratopt.data._validate import normalize_columns, validate_bars, validate_ohlcv
from stratopt.errors import DataError

if TYPE_CHECKING:
    import pandas as pd

_PARQUET_SUFFIXES = (".parquet", ".pq", ".parq")


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


def load_market_data(spec: DataSpec, field: str = "spec.backtest.data") -> MarketData:
    """Load ``spec`` as :class:`MarketData` ready for the engine."""
    if is_synthetic(spec.source) and spec.start is None and spec.end is None:
        bars = synthesize_bars(spec.source, f"{field}.source")
        validate_bars(bars, f"{field}.source")
        return MarketData.from_bars(
            bars, pip_size=spec.pip_size, tick_size=spec.effective_tick_size
        )
    frame = load_frame(spec, field)
    return MarketData.from_frame(frame, pip_size=spec.pip_size, tick_size=spec.effective_tick_size)


def _read(source: str, file_format: str, field: str) -> pd.DataFrame:
    import fsspec
    import pandas as pd

    if file_format == "auto":
        stem = source.lower().split("?")[0].removesuffix(".gz")
        file_format = "parquet" if stem.endswith(_PARQUET_SUFFIXES) else "csv"
    try:
        with fsspec.open(source, "rb", compression="infer") as handle:
            if file_format == "parquet":
                return pd.read_parquet(handle)
            frame = pd.read_csv(handle)
    except FileNotFoundError as exc:
        raise DataError(field, f"file not found: {source}; check the path or URL") from exc
    except ImportError as exc:
        raise DataError(
            field, f"cannot open {source}: {exc}. Install stratopt[cloud] for s3:// and gs://"
        ) from exc
    except (ValueError, OSError) as exc:
        raise DataError(field, f"cannot read {source} as {file_format}: {exc}") from exc
    # A CSV whose first column is an unnamed index (as pandas writes them) holds the time.
    first = str(frame.columns[0])
    if first.startswith("Unnamed") or first == "":
        frame = frame.set_index(frame.columns[0])
    return frame
