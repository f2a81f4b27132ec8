"""Loading OHLCV from files and URLs, normalization, and validation messages."""

from __future__ import annotations

import http.server
import threading
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from stratopt.api.v1alpha1 import DataSpec
from stratopt.data import MarketData, _load, load_frame, load_market_data, synthesize_ohlcv
from stratopt.errors import DataError


@pytest.fixture()
def bars() -> pd.DataFrame:
    return synthesize_ohlcv("synthetic:gbm?bars=300&freq=1h&seed=5")


def _write_csv(frame: pd.DataFrame, path: Path, **renames: str) -> Path:
    out = frame.reset_index().rename(
        columns={
            "timestamp": "Date",
            "open": "Open",
            "high": "High",
            "low": "Low",
            "close": "Close",
            "volume": "Volume",
        }
    )
    out.rename(columns=renames).to_csv(path, index=False)
    return path


def test_csv_with_capitalized_columns_round_trips(bars: pd.DataFrame, tmp_path: Path) -> None:
    path = _write_csv(bars, tmp_path / "bars.csv")
    loaded = load_frame(DataSpec(source=str(path)))
    assert list(loaded.columns) == ["open", "high", "low", "close", "volume"]
    pd.testing.assert_frame_equal(loaded, bars, check_freq=False, check_index_type=False)


def test_parquet_and_gzip_csv(bars: pd.DataFrame, tmp_path: Path) -> None:
    bars.to_parquet(tmp_path / "bars.parquet")
    _write_csv(bars, tmp_path / "bars.csv.gz")
    from_parquet = load_market_data(DataSpec(source=str(tmp_path / "bars.parquet")))
    from_gzip = load_market_data(DataSpec(source=str(tmp_path / "bars.csv.gz")))
    np.testing.assert_array_equal(from_parquet.close, bars["close"].to_numpy())
    np.testing.assert_array_equal(from_gzip.high, bars["high"].to_numpy())


@pytest.fixture()
def http_root(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    handler = lambda *a, **k: http.server.SimpleHTTPRequestHandler(  # noqa: E731
        *a, directory=str(tmp_path), **k
    )
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.RequestHandlerClass.log_message = lambda *a, **k: None  # type: ignore[method-assign]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", tmp_path
    finally:
        server.shutdown()
        server.server_close()


def test_http_url(bars: pd.DataFrame, http_root: tuple[str, Path]) -> None:
    url, root = http_root
    _write_csv(bars, root / "remote.csv", Date="timestamp")
    loaded = load_market_data(DataSpec(source=f"{url}/remote.csv"))
    np.testing.assert_array_equal(loaded.close, bars["close"].to_numpy())


def test_slicing_by_start_and_end(bars: pd.DataFrame, tmp_path: Path) -> None:
    path = _write_csv(bars, tmp_path / "bars.csv")
    start, end = bars.index[10], bars.index[50]
    loaded = load_frame(DataSpec(source=str(path), start=start, end=end))
    assert loaded.index[0] == start and loaded.index[-1] == end and len(loaded) == 41


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda f: f.drop(columns=["close"]), r"missing column\(s\) \['close'\]"),
        (
            lambda f: f.assign(high=np.where(np.arange(len(f)) == 7, np.nan, f["high"])),
            "column 'high' has 1 NaN",
        ),
        (lambda f: f.iloc[[0, 2, 1, *range(3, len(f))]], "not sorted"),
        (lambda f: f.iloc[[0, 0, *range(1, len(f))]], "duplicate timestamp"),
        (lambda f: f.assign(low=f["high"] + 0.01), "high < low"),
        (lambda f: f.assign(close=f["high"] * 2), "close outside the bar's low-high range"),
        (lambda f: f.assign(open=f["low"] / 2), "open outside the bar's low-high range"),
        (lambda f: f.assign(open=-f["open"]), "non-positive price"),
        (lambda f: f.iloc[:1], "has 1 bars but at least 2"),
    ],
    ids=[
        "missing-column",
        "nan",
        "unsorted",
        "duplicate",
        "high-below-low",
        "close-above-high",
        "open-below-low",
        "negative",
        "short",
    ],
)
@pytest.mark.parametrize("load", [load_frame, load_market_data])
def test_bad_data_is_rejected_with_a_message(
    bars: pd.DataFrame, tmp_path: Path, mutate: object, message: str, load: object
) -> None:
    assert callable(mutate) and callable(load)
    path = tmp_path / "bad.parquet"
    mutate(bars).to_parquet(path)
    with pytest.raises(DataError, match=message) as caught:
        load(DataSpec(source=str(path)))
    assert caught.value.field == "spec.backtest.data.source"


def _csv(frame: pd.DataFrame, path: Path, **options: object) -> Path:
    frame.reset_index().to_csv(path, index=False, **options)  # type: ignore[call-overload]
    return path


PLAIN_FILES = {
    "capitalized": lambda f, d: _write_csv(f, d / "bars.csv"),
    "integer-volume": lambda f, d: _csv(f.assign(volume=f["volume"].astype(int)), d / "bars.csv"),
    "no-volume": lambda f, d: _csv(f.drop(columns=["volume"]), d / "bars.csv"),
    "extra-columns": lambda f, d: _csv(f.assign(spread=1.5, symbol="EURUSD"), d / "bars.csv"),
    "nanoseconds": lambda f, d: _csv(f.set_axis(f.index + pd.Timedelta(1), axis=0), d / "b.csv"),
    "parquet": lambda f, d: f.to_parquet(d / "bars.parquet") or d / "bars.parquet",
    "parquet-column": lambda f, d: f.reset_index().to_parquet(d / "b.parquet") or d / "b.parquet",
}


def _days(count: int) -> pd.DatetimeIndex:
    return pd.date_range("2020-01-01", periods=count, freq="D", name="timestamp")


PANDAS_FILES = {
    "utc-offsets": lambda f, d: _csv(f.tz_localize("UTC"), d / "bars.csv"),
    "dates-only": lambda f, d: _csv(f.set_axis(_days(len(f)), axis=0), d / "bars.csv"),
    "gzip": lambda f, d: _write_csv(f, d / "bars.csv.gz"),
    "index-column": lambda f, d: f.to_csv(d / "bars.csv", index_label="") or d / "bars.csv",
}


@pytest.mark.parametrize("write", PLAIN_FILES.values(), ids=PLAIN_FILES.keys())
def test_plain_files_are_read_without_pandas_into_the_same_bars(
    bars: pd.DataFrame, tmp_path: Path, write: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert callable(write)
    spec = DataSpec(source=str(write(bars, tmp_path)))
    expected = MarketData.from_frame(load_frame(spec), pip_size=1e-4, tick_size=1e-5)
    monkeypatch.setattr(_load, "_read", lambda *_: pytest.fail("read with pandas"))
    loaded = load_market_data(spec)
    assert loaded.timestamps.dtype == expected.timestamps.dtype
    np.testing.assert_array_equal(loaded.timestamps, expected.timestamps)
    for name, values in expected.columns().items():
        np.testing.assert_array_equal(getattr(loaded, name), values, err_msg=name)
    assert loaded.tz is None and loaded.periods_per_year == expected.periods_per_year


@pytest.mark.parametrize("write", PANDAS_FILES.values(), ids=PANDAS_FILES.keys())
def test_other_files_are_read_by_pandas_the_same_way(
    bars: pd.DataFrame, tmp_path: Path, write: object
) -> None:
    assert callable(write)
    spec = DataSpec(source=str(write(bars, tmp_path)))
    assert _load._read_plain_bars(spec.source, spec.format, "spec.backtest.data.source") is None
    expected = load_frame(spec)
    loaded = load_market_data(spec)
    np.testing.assert_array_equal(loaded.close, expected["close"].to_numpy())
    assert loaded.index.equals(expected.index)


def test_missing_file_names_the_field(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="file not found") as caught:
        load_frame(DataSpec(source=str(tmp_path / "absent.csv")))
    assert str(caught.value).startswith("spec.backtest.data.source:")


@pytest.mark.parametrize("load", [load_frame, load_market_data])
def test_local_time_across_a_daylight_saving_change_loads_as_utc(
    tmp_path: Path, load: object
) -> None:
    # New York's clocks move on 2024-03-10: the offsets go from -05:00 to -04:00.
    frame = synthesize_ohlcv("synthetic:gbm?bars=300&freq=1h&seed=5&start=2024-03-05")
    utc = frame.tz_localize("UTC")
    local = utc.tz_convert("America/New_York")
    offsets = {str(t)[-6:] for t in local.index}
    assert offsets == {"-05:00", "-04:00"}
    path = _csv(local, tmp_path / "new-york.csv")
    assert callable(load)
    loaded = load(DataSpec(source=str(path)))
    index = loaded.index
    assert str(index.tz) == "UTC"
    np.testing.assert_array_equal(index.asi8, utc.index.asi8)  # the same instants, in order
    np.testing.assert_array_equal(np.asarray(loaded.close), frame["close"].to_numpy())
