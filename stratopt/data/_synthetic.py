"""Seeded synthetic OHLCV, so every example and test runs offline.

``synthetic:gbm?bars=62000&freq=1h&seed=7`` gives about ten years of hourly FX-like bars:
geometric Brownian motion whose volatility switches between calm, normal and stressed
regimes (a persistent Markov chain) and follows an intraday cycle, with volume that rises
with volatility and absolute returns. ``synthetic:walk`` is the same walk with constant
volatility and no regimes: a null market where no strategy has an edge. ``reversion=φ``
makes each bar's return lean against the previous one (r_t = ε_t − φ·r_{t−1}): a
market with a planted, persistent edge for mean-reversion strategies.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, urlsplit

import numpy as np

from stratopt.data._market import Bars
from stratopt.errors import DataError

if TYPE_CHECKING:
    import pandas as pd

_KINDS = ("gbm", "walk")
_DEFAULTS: dict[str, str] = {
    "bars": "62000",
    "freq": "1h",
    "seed": "0",
    "start": "2015-01-05",
    "price": "1.1",
    "vol": "0.08",
    "drift": "0.0",
    "decimals": "5",
    "reversion": "0.0",
}
_REGIME_SCALE = np.array([0.6, 1.0, 2.0])
# Rows: from calm, normal, stressed. Persistent regimes, as in real FX volatility.
_REGIME_STAY = 0.998


#: Most bars a synthetic series may have: ten times a decade of minutes, six float arrays
#: of them about 2.4 GB.
MAX_SYNTHETIC_BARS = 50_000_000


def is_synthetic(source: str) -> bool:
    """Whether ``source`` names a synthetic series rather than a file."""
    return source.startswith("synthetic:")


def parse_synthetic(source: str, field: str = "data.source") -> tuple[str, dict[str, str]]:
    """Split ``synthetic:KIND?k=v&...`` into its kind and options (defaults filled in)."""
    parts = urlsplit(source[len("synthetic:") :])
    kind = parts.path or "gbm"
    if kind not in _KINDS:
        raise DataError(field, f"unknown synthetic kind '{kind}'; use one of {list(_KINDS)}")
    options = dict(_DEFAULTS)
    given: set[str] = set()
    for key, value in parse_qsl(parts.query, keep_blank_values=True):
        if key not in _DEFAULTS:
            raise DataError(
                field,
                f"unknown synthetic option {key[:40]!r}; known options are {sorted(_DEFAULTS)}",
            )
        if key in given:
            raise DataError(field, f"synthetic option {key} is given twice; give it once")
        given.add(key)
        options[key] = value
    return kind, options


def synthesize_ohlcv(source: str, field: str = "data.source") -> pd.DataFrame:
    """Generate the OHLCV frame that ``source`` describes; same source, same bars."""
    import pandas as pd

    bars = synthesize_bars(source, field)
    return pd.DataFrame(bars.columns(), index=pd.DatetimeIndex(bars.timestamps, name="timestamp"))


_MICROSECONDS = {"s": 10**6, "min": 60 * 10**6, "h": 3600 * 10**6, "d": 86400 * 10**6}
_MICROSECONDS |= {"D": _MICROSECONDS["d"], "W": 7 * _MICROSECONDS["d"]}
_PLAIN_DURATION = re.compile(r"(\d+)(s|min|h|d|D|W)")
_PLAIN_DATE = re.compile(r"\d{4}-\d{2}-\d{2}([ T]\d{2}:\d{2}(:\d{2})?)?")


def _duration(text: str) -> int:
    """Microseconds of a duration: the common forms read here, any other by pandas
    (whose import the usual synthetic source need not pay)."""
    plain = _PLAIN_DURATION.fullmatch(text)
    if plain:
        return int(plain[1]) * _MICROSECONDS[plain[2]]
    import pandas as pd

    return int(pd.Timedelta(text).to_timedelta64().astype("timedelta64[us]").astype(np.int64))


def _date(text: str) -> np.datetime64:
    if _PLAIN_DATE.fullmatch(text):
        return np.datetime64(text.replace(" ", "T"), "us")
    import pandas as pd

    start = pd.Timestamp(text)
    if start.tzinfo is not None:
        raise ValueError("a UTC offset")
    return np.datetime64(start.to_pydatetime(), "us")


def synthesize_bars(source: str, field: str = "data.source") -> Bars:
    """The bars that ``source`` describes, as arrays; same source, same bars."""
    kind, options = parse_synthetic(source, field)
    parsed: dict[str, Any] = {}
    readers: dict[str, tuple[Callable[[str], Any], str]] = {
        "bars": (int, "a whole number like 62000"),
        "seed": (int, "a whole number"),
        "price": (float, "a number"),
        "vol": (float, "a number"),
        "drift": (float, "a number"),
        "decimals": (int, "a whole number"),
        "reversion": (float, "a number"),
        "freq": (_duration, "a duration like 1h, 15min or 1D"),
        "start": (_date, "a date like 2015-01-01, without a UTC offset"),
    }
    for option, (read, expected) in readers.items():
        try:
            parsed[option] = read(options[option])
        except (ValueError, TypeError):
            raise DataError(
                field, f"synthetic option {option}={options[option]!r} must be {expected}"
            ) from None
    bars, seed, price, vol = parsed["bars"], parsed["seed"], parsed["price"], parsed["vol"]
    drift, decimals, reversion = parsed["drift"], parsed["decimals"], parsed["reversion"]
    freq, start = parsed["freq"], parsed["start"]
    if freq <= 0:
        raise DataError(field, f"synthetic option freq={options['freq']!r} must be positive")
    if not 2 <= bars <= MAX_SYNTHETIC_BARS:
        raise DataError(field, f"bars must be from 2 to {MAX_SYNTHETIC_BARS:,}; got {bars:,}")
    if not (0 < price < 1e12 and 0 < vol < 100):
        raise DataError(field, "price must be positive and below 1e12, vol positive and below 100")
    if not (abs(drift) < 100 and 0 <= decimals <= 12 and 0 <= seed < 2**63):
        raise DataError(
            field, "drift must be within ±100, decimals from 0 to 12, seed from 0 to 2**63 - 1"
        )
    if not 0 <= reversion < 1:
        raise DataError(field, f"reversion must be in [0, 1); got {reversion}")

    timestamps = _trading_times(start, freq, bars)
    rng = np.random.default_rng(seed)
    span = (timestamps[-1] - timestamps[0]) / np.timedelta64(1, "s")
    periods_per_year = bars / max(span / (365.25 * 86400), 1e-9)
    sigma = vol / np.sqrt(periods_per_year)
    if kind == "gbm":
        scale = _REGIME_SCALE[_regimes(rng, bars)] * _intraday_cycle(timestamps, freq)
    else:
        scale = np.ones(bars)
    bar_sigma = sigma * scale
    shocks = rng.standard_normal(bars)
    noise = bar_sigma * shocks
    if reversion > 0:
        noise = _mean_reverting(noise, reversion)
    log_returns = drift / periods_per_year - 0.5 * bar_sigma**2 + noise
    close = price * np.exp(np.cumsum(log_returns))
    open_ = np.empty(bars)
    open_[0] = price
    open_[1:] = close[:-1]
    # Wicks: the extremes of the Brownian bridge from open to close within the bar,
    # sampled exactly (P(max > m) = exp(-2(m - a)(m - b) / s^2) in log price), so stops
    # and targets touched intrabar are consistent with the path: no free lunch on wicks.
    log_open, log_close = np.log(open_), np.log(close)
    variance = bar_sigma**2
    spread = (log_close - log_open) ** 2
    log_high = 0.5 * (
        log_open + log_close + np.sqrt(spread - 2 * variance * np.log(rng.random(bars)))
    )
    log_low = 0.5 * (
        log_open + log_close - np.sqrt(spread - 2 * variance * np.log(rng.random(bars)))
    )
    high = np.exp(log_high)
    low = np.exp(log_low)
    base_volume = rng.lognormal(mean=7.0, sigma=0.35, size=bars)
    volume = np.round(base_volume * scale * (1.0 + 2.0 * np.abs(shocks)))
    return Bars(
        timestamps=timestamps,
        open=open_.round(decimals),
        high=high.round(decimals),
        low=low.round(decimals),
        close=close.round(decimals),
        volume=volume,
    )


def _mean_reverting(noise: np.ndarray, reversion: float) -> np.ndarray:
    """r_t = noise_t − reversion · r_{t−1}: a planted, persistent mean-reversion edge.

    scipy.signal.lfilter computes the same, but importing it costs more than a second.
    """
    from stratopt.data._recursion import ar1

    return ar1(np.ascontiguousarray(noise, dtype=np.float64), float(reversion))


_DAY = 86400 * 10**6


def _trading_times(start: np.datetime64, freq: int, bars: int) -> np.ndarray:
    """Timestamps on weekdays only, like FX and equity sessions."""
    per_week = max(7 * _DAY // freq, 1)
    steps = np.arange(int(bars * 7 / 5) + 2 * per_week + 10, dtype=np.int64) * freq
    candidates = start + steps.astype("timedelta64[us]")
    # 1970-01-01, day 0, was a Thursday: weekday 3 counting from Monday.
    weekday = (candidates.astype(np.int64) // _DAY + 3) % 7
    return candidates[weekday < 5][:bars]


def _regimes(rng: np.random.Generator, bars: int) -> np.ndarray:
    switches = rng.random(bars) > _REGIME_STAY
    draws = rng.integers(0, len(_REGIME_SCALE), size=bars)
    regime = np.empty(bars, dtype=np.int64)
    current = 1
    for i in range(bars):
        if switches[i]:
            current = int(draws[i])
        regime[i] = current
    return regime


def _intraday_cycle(timestamps: np.ndarray, freq: int) -> np.ndarray:
    if freq >= _DAY:
        return np.ones(len(timestamps))
    minutes = timestamps.astype(np.int64) % _DAY // (60 * 10**6)
    hours = minutes // 60 + (minutes % 60) / 60.0
    # Busier London/New York overlap, quieter Asian session; mean near one.
    return np.asarray(1.0 + 0.35 * np.sin((hours - 8.0) / 24.0 * 2 * np.pi), dtype=np.float64)
