"""The seeded synthetic source: reproducible, realistic enough, and validated."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from stratopt.data import synthesize_ohlcv, validate_ohlcv
from stratopt.data._market import Bars
from stratopt.data._validate import validate_bars
from stratopt.errors import DataError


def test_same_source_same_bars_and_seed_changes_them() -> None:
    a = synthesize_ohlcv("synthetic:gbm?bars=2000&seed=1")
    b = synthesize_ohlcv("synthetic:gbm?bars=2000&seed=1")
    c = synthesize_ohlcv("synthetic:gbm?bars=2000&seed=2")
    assert a.equals(b)
    assert not a["close"].equals(c["close"])


def test_shape_and_ohlc_consistency() -> None:
    frame = synthesize_ohlcv("synthetic:gbm?bars=62000&freq=1h&seed=7")
    validate_ohlcv(frame)
    assert len(frame) == 62000
    assert (frame.index.day_of_week < 5).all(), "weekend bars in an FX-like series"
    years = (frame.index[-1] - frame.index[0]).days / 365.25
    assert 9.5 < years < 10.5
    assert (frame["high"] >= frame[["open", "close"]].max(axis=1)).all()
    assert (frame["low"] <= frame[["open", "close"]].min(axis=1)).all()
    assert (frame["volume"] > 0).all()
    # Prices carry five decimals like FX quotes.
    np.testing.assert_allclose(frame["close"] * 1e5, np.round(frame["close"] * 1e5), atol=1e-6)


def test_volatility_regimes_cluster() -> None:
    returns = np.diff(np.log(synthesize_ohlcv("synthetic:gbm?bars=20000&seed=4")["close"]))
    walk = np.diff(np.log(synthesize_ohlcv("synthetic:walk?bars=20000&seed=4")["close"]))

    def abs_autocorrelation(r: np.ndarray) -> float:
        a = np.abs(r) - np.abs(r).mean()
        return float((a[1:] * a[:-1]).mean() / a.var())

    assert abs_autocorrelation(returns) > 0.05
    assert abs(abs_autocorrelation(walk)) < 0.03


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("synthetic:brownian", "unknown synthetic kind"),
        ("synthetic:gbm?barz=10", "unknown synthetic option 'barz'"),
        ("synthetic:gbm?bars=ten", "synthetic option bars='ten' must be a whole number"),
        ("synthetic:gbm?freq=banana", "synthetic option freq='banana' must be a duration"),
        ("synthetic:gbm?freq=0h", "synthetic option freq='0h' must be positive"),
        ("synthetic:gbm?start=someday", "synthetic option start='someday' must be a date"),
        ("synthetic:gbm?bars=1", "bars must be from 2 to 50,000,000; got 1"),
    ],
)
def test_bad_synthetic_sources(source: str, message: str) -> None:
    with pytest.raises(DataError, match=message):
        synthesize_ohlcv(source)


@pytest.mark.parametrize(
    ("freq", "start"),
    [
        ("1h", "2015-01-05"),
        ("15min", "2019-03-02 10:30"),
        ("1D", "2020-02-28T00:00:00"),
        ("90min", "1969-12-26"),  # before the epoch: weekdays still right
        ("1.5h", "20190302"),  # forms read by pandas
        ("1 hour", "March 3, 2019"),
    ],
)
def test_timestamps_are_pandas_weekday_calendar(freq: str, start: str) -> None:
    """Timestamps are made without pandas; they are the weekdays of pandas' own range."""
    made = synthesize_ohlcv(f"synthetic:gbm?bars=900&freq={freq}&start={start}").index
    candidates = pd.date_range(pd.Timestamp(start), periods=3000, freq=pd.Timedelta(freq))
    expected = candidates[candidates.day_of_week < 5][:900]
    np.testing.assert_array_equal(made.to_numpy(), expected.to_numpy())


def test_a_start_with_a_utc_offset_is_refused() -> None:
    with pytest.raises(DataError, match="without a UTC offset"):
        synthesize_ohlcv("synthetic:gbm?start=2019-03-02T10:30:00%2B01:00")


@pytest.mark.parametrize(
    ("column", "row", "value", "message"),
    [
        ("close", 3, np.nan, "column 'close' has 1 NaN value"),
        ("low", 5, 0.0, "non-positive price at 2015-01-05 05:00:00"),
        ("high", 7, 0.5, r"high < low at 2015-01-05 07:00:00"),
        ("close", 9, 10.0, r"close outside the bar's low-high range at 2015-01-05 09:00:00"),
        ("timestamps", 4, "2015-01-05T01:00", "duplicate timestamp 2015-01-05 01:00:00"),
        ("timestamps", 2, "2015-01-04T00:00", "timestamps are not sorted .bar 2"),
    ],
)
def test_arrays_and_frames_fail_validation_alike(
    column: str, row: int, value: object, message: str
) -> None:
    frame = synthesize_ohlcv("synthetic:gbm?bars=50&seed=1")
    columns = {name: frame[name].to_numpy().copy() for name in frame.columns}
    timestamps = frame.index.to_numpy().copy()
    if column == "timestamps":
        timestamps[row] = np.datetime64(value)
    else:
        columns[column][row] = value
    bars = Bars(timestamps=timestamps, **columns)
    broken = pd.DataFrame(columns, index=pd.DatetimeIndex(timestamps, name="timestamp"))
    with pytest.raises(DataError, match=message) as from_frame:
        validate_ohlcv(broken)
    with pytest.raises(DataError, match=message) as from_arrays:
        validate_bars(bars)
    assert str(from_arrays.value) == str(from_frame.value)
