"""Indicators against straightforward reference implementations, and no look-ahead."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from stratopt.backtest import indicators as ind
from stratopt.data import synthesize_ohlcv


@pytest.fixture(scope="module")
def frame() -> pd.DataFrame:
    return synthesize_ohlcv("synthetic:gbm?bars=3000&freq=1h&seed=11")


def _reference_rsi(close: np.ndarray, period: int) -> np.ndarray:
    """Wilder's RSI written the way the 1978 book describes it, one bar at a time."""
    out = np.full(len(close), np.nan)
    changes = np.diff(close)
    gain = np.mean(np.clip(changes[:period], 0, None))
    loss = np.mean(np.clip(-changes[:period], 0, None))
    out[period] = 100 - 100 / (1 + gain / loss)
    for i in range(period + 1, len(close)):
        change = changes[i - 1]
        gain = (gain * (period - 1) + max(change, 0)) / period
        loss = (loss * (period - 1) + max(-change, 0)) / period
        out[i] = 100 - 100 / (1 + gain / loss)
    return out


@pytest.mark.parametrize("period", [2, 14, 50])
def test_rsi_matches_wilder(frame: pd.DataFrame, period: int) -> None:
    close = frame["close"].to_numpy()
    np.testing.assert_allclose(ind.rsi(close, period), _reference_rsi(close, period), rtol=1e-10)


def test_moving_averages_match_pandas(frame: pd.DataFrame) -> None:
    close = frame["close"]
    np.testing.assert_allclose(ind.sma(close.to_numpy(), 20), close.rolling(20).mean(), rtol=1e-10)
    seeded = close.copy()
    seeded.iloc[:19] = np.nan
    seeded.iloc[19] = close.iloc[:20].mean()
    expected = seeded.ewm(span=20, adjust=False, ignore_na=True).mean()
    expected.iloc[:19] = np.nan
    np.testing.assert_allclose(ind.ema(close.to_numpy(), 20), expected, rtol=1e-10)


def test_atr_bollinger_volatility_volume(frame: pd.DataFrame) -> None:
    high, low, close = (frame[c] for c in ("high", "low", "close"))
    true_range = pd.concat(
        [high - low, (high - close.shift()).abs(), (low - close.shift()).abs()], axis=1
    ).max(axis=1)
    true_range.iloc[0] = high.iloc[0] - low.iloc[0]
    expected_atr = true_range.copy()
    expected_atr.iloc[:13] = np.nan
    expected_atr.iloc[13] = true_range.iloc[:14].mean()
    expected_atr = expected_atr.ewm(alpha=1 / 14, adjust=False, ignore_na=True).mean()
    expected_atr.iloc[:13] = np.nan
    np.testing.assert_allclose(
        ind.atr(high.to_numpy(), low.to_numpy(), close.to_numpy(), 14), expected_atr, rtol=1e-10
    )
    middle, upper, lower = ind.bollinger(close.to_numpy(), 20, 2.0)
    np.testing.assert_allclose(upper - middle, 2 * close.rolling(20).std(ddof=0), rtol=1e-8)
    np.testing.assert_allclose(middle - lower, 2 * close.rolling(20).std(ddof=0), rtol=1e-8)
    log_returns = np.log(close).diff()
    np.testing.assert_allclose(
        ind.rolling_volatility(close.to_numpy(), 20), log_returns.rolling(20).std(), rtol=1e-8
    )
    volume = frame["volume"]
    np.testing.assert_allclose(
        ind.volume_ratio(volume.to_numpy(), 20), volume / volume.rolling(20).mean(), rtol=1e-10
    )


def test_macd_is_difference_of_emas(frame: pd.DataFrame) -> None:
    close = frame["close"].to_numpy()
    line, signal, histogram = ind.macd(close)
    np.testing.assert_allclose(line, ind.ema(close, 12) - ind.ema(close, 26), rtol=1e-12)
    first = int(np.flatnonzero(~np.isnan(line))[0])
    np.testing.assert_allclose(signal[first:], ind.ema(line[first:], 9), rtol=1e-12)
    np.testing.assert_allclose(histogram, line - signal, rtol=1e-12)
    with pytest.raises(ValueError, match="fast period must be below slow"):
        ind.macd(close, 26, 12)


@pytest.mark.parametrize(
    "name",
    [
        "rsi",
        "ema",
        "sma",
        "atr",
        "bollinger",
        "macd",
        "rolling_volatility",
        "volume_ratio",
        "rolling_max",
    ],
)
def test_no_look_ahead(frame: pd.DataFrame, name: str) -> None:
    """An indicator on a truncated series equals the prefix of the full one."""

    def compute(f: pd.DataFrame) -> np.ndarray:
        c, h, lo, v = (f[k].to_numpy() for k in ("close", "high", "low", "volume"))
        match name:
            case "atr":
                return ind.atr(h, lo, c, 14)
            case "bollinger":
                return np.vstack(ind.bollinger(c, 20))
            case "macd":
                return np.vstack(ind.macd(c))
            case "volume_ratio":
                return ind.volume_ratio(v, 20)
            case "rolling_max":
                return ind.rolling_max(h, 20)
            case _:
                return np.asarray(getattr(ind, name)(c, 14))

    full = compute(frame)
    cut = compute(frame.iloc[:1500])
    np.testing.assert_allclose(full[..., :1500], cut, rtol=1e-12, equal_nan=True)


def test_bad_period() -> None:
    with pytest.raises(ValueError, match="positive integer"):
        ind.sma(np.ones(10), 0)
