"""The seeded synthetic source: reproducible, realistic enough, and validated."""

from __future__ import annotations

import numpy as np
import pytest

from stratopt.data import synthesize_ohlcv, validate_ohlcv
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
        ("synthetic:gbm?bars=1", "bars must be at least 2"),
    ],
)
def test_bad_synthetic_sources(source: str, message: str) -> None:
    with pytest.raises(DataError, match=message):
        synthesize_ohlcv(source)
