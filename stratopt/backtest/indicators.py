"""Vectorized technical indicators over float64 arrays.

Each indicator returns an array as long as its input, NaN until enough bars exist
(the warm-up), and uses only bars up to and including the current one. Recursive
indicators (EMA, RSI, ATR) are compiled loops; the others are numpy expressions.
Seeding follows TA-Lib: EMA-type recursions start from the simple mean of their
first window.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from stratopt._jit import njit

FloatArray = npt.NDArray[np.float64]


def sma(values: FloatArray, period: int) -> FloatArray:
    """Simple moving average over ``period`` bars."""
    _check_period(period)
    out = np.full(len(values), np.nan)
    if len(values) >= period:
        cumulative = np.cumsum(np.insert(values, 0, 0.0))
        out[period - 1 :] = (cumulative[period:] - cumulative[:-period]) / period
    return out


def ema(values: FloatArray, period: int) -> FloatArray:
    """Exponential moving average, alpha = 2 / (period + 1), seeded with the SMA."""
    _check_period(period)
    return _seeded_recursion(
        np.ascontiguousarray(values, dtype=np.float64), period, 2.0 / (period + 1)
    )


def wilder(values: FloatArray, period: int) -> FloatArray:
    """Wilder's smoothing (alpha = 1 / period), seeded with the SMA."""
    _check_period(period)
    return _seeded_recursion(np.ascontiguousarray(values, dtype=np.float64), period, 1.0 / period)


def rsi(close: FloatArray, period: int = 14) -> FloatArray:
    """Relative Strength Index with Wilder smoothing, in [0, 100]."""
    _check_period(period)
    return _rsi(np.ascontiguousarray(close, dtype=np.float64), period)


def macd(
    close: FloatArray, fast: int = 12, slow: int = 26, signal: int = 9
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """MACD line (EMA fast − EMA slow), its signal line, and the histogram."""
    if fast >= slow:
        raise ValueError(f"macd fast period must be below slow; got fast={fast}, slow={slow}")
    line = ema(close, fast) - ema(close, slow)
    signal_line = np.full(len(close), np.nan)
    valid = np.flatnonzero(~np.isnan(line))
    if len(valid):
        signal_line[valid[0] :] = ema(line[valid[0] :], signal)
    return line, signal_line, line - signal_line


def true_range(high: FloatArray, low: FloatArray, close: FloatArray) -> FloatArray:
    """True range; the first bar uses high − low."""
    previous = np.concatenate(([close[0]], close[:-1]))
    return np.maximum(high, previous) - np.minimum(low, previous)


def atr(high: FloatArray, low: FloatArray, close: FloatArray, period: int = 14) -> FloatArray:
    """Average True Range with Wilder smoothing."""
    return wilder(true_range(high, low, close), period)


def bollinger(
    close: FloatArray, period: int = 20, width: float = 2.0
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Bollinger bands: middle (SMA), upper and lower at ``width`` population std devs."""
    middle = sma(close, period)
    deviation = rolling_std(close, period, ddof=0)
    return middle, middle + width * deviation, middle - width * deviation


def rolling_std(values: FloatArray, period: int, ddof: int = 1) -> FloatArray:
    """Rolling standard deviation over ``period`` bars."""
    _check_period(period)
    out = np.full(len(values), np.nan)
    if len(values) >= period:
        windows = np.lib.stride_tricks.sliding_window_view(values, period)
        out[period - 1 :] = windows.std(axis=1, ddof=ddof)
    return out


def log_returns(close: FloatArray) -> FloatArray:
    """One-bar log returns; NaN on the first bar."""
    out = np.full(len(close), np.nan)
    out[1:] = np.diff(np.log(close))
    return out


def rolling_volatility(close: FloatArray, period: int = 20) -> FloatArray:
    """Rolling standard deviation of one-bar log returns (per bar, not annualized)."""
    returns = log_returns(close)
    out = np.full(len(close), np.nan)
    out[1:] = rolling_std(returns[1:], period)
    return out


def volume_ratio(volume: FloatArray, period: int = 20) -> FloatArray:
    """Volume relative to its ``period``-bar average; NaN where the average is zero."""
    average = sma(volume, period)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(average > 0, volume / average, np.nan)


def rolling_max(values: FloatArray, period: int) -> FloatArray:
    """Highest value of the last ``period`` bars, current bar included."""
    _check_period(period)
    out = np.full(len(values), np.nan)
    if len(values) >= period:
        out[period - 1 :] = np.lib.stride_tricks.sliding_window_view(values, period).max(axis=1)
    return out


def rolling_min(values: FloatArray, period: int) -> FloatArray:
    """Lowest value of the last ``period`` bars, current bar included."""
    _check_period(period)
    out = np.full(len(values), np.nan)
    if len(values) >= period:
        out[period - 1 :] = np.lib.stride_tricks.sliding_window_view(values, period).min(axis=1)
    return out


def shift(values: FloatArray, bars: int = 1) -> FloatArray:
    """Values ``bars`` bars ago (NaN where there are none)."""
    out = np.full(len(values), np.nan)
    if bars < len(values):
        out[bars:] = values[: len(values) - bars]
    return out


def _check_period(period: int) -> None:
    if int(period) != period or period < 1:
        raise ValueError(f"indicator period must be a positive integer; got {period}")


@njit(cache=True)
def _seeded_recursion(
    values: FloatArray, period: int, alpha: float
) -> FloatArray:  # pragma: no cover
    n = len(values)
    out = np.full(n, np.nan)
    start = 0
    while start < n and np.isnan(values[start]):
        start += 1
    if n - start < period:
        return out
    seed = 0.0
    for i in range(start, start + period):
        seed += values[i]
    value = seed / period
    out[start + period - 1] = value
    for i in range(start + period, n):
        value = value + alpha * (values[i] - value)
        out[i] = value
    return out


@njit(cache=True)
def _rsi(close: FloatArray, period: int) -> FloatArray:  # pragma: no cover
    n = len(close)
    out = np.full(n, np.nan)
    if n <= period:
        return out
    gain = 0.0
    loss = 0.0
    for i in range(1, period + 1):
        change = close[i] - close[i - 1]
        if change > 0:
            gain += change
        else:
            loss -= change
    gain /= period
    loss /= period
    out[period] = _rsi_value(gain, loss)
    for i in range(period + 1, n):
        change = close[i] - close[i - 1]
        up = change if change > 0 else 0.0
        down = -change if change < 0 else 0.0
        gain = (gain * (period - 1) + up) / period
        loss = (loss * (period - 1) + down) / period
        out[i] = _rsi_value(gain, loss)
    return out


@njit(cache=True)
def _rsi_value(gain: float, loss: float) -> float:  # pragma: no cover
    if loss == 0.0:
        return 50.0 if gain == 0.0 else 100.0
    return 100.0 - 100.0 / (1.0 + gain / loss)
