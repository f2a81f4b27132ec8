"""The feature catalogue: names a spec may use, and how each is computed.

Every feature at bar *t* uses bars up to *t* only. Names with a number take it as
their lookback: ``rsi_14``, ``ema_50``, ``return_5`` and so on.
"""

from __future__ import annotations

import re
from collections.abc import Callable

import numpy as np

from stratopt.backtest import indicators as ind
from stratopt.data import MarketData
from stratopt.errors import InputError

Feature = Callable[[MarketData, int], np.ndarray]


def _ratio(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.asarray(a / b - 1.0)


def _pct_b(data: MarketData, n: int) -> np.ndarray:
    _, upper, lower = ind.bollinger(data.close, n)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.asarray((data.close - lower) / (upper - lower))


def _return(data: MarketData, n: int) -> np.ndarray:
    out = np.full(len(data), np.nan)
    out[n:] = np.log(data.close[n:] / data.close[:-n])
    return out


#: Pattern → (description, function of data and lookback).
PATTERNS: dict[str, tuple[str, Feature]] = {
    "rsi_N": ("RSI over N bars (Wilder).", lambda d, n: ind.rsi(d.close, n)),
    "ema_N": ("EMA of close over N bars (a price level).", lambda d, n: ind.ema(d.close, n)),
    "sma_N": ("SMA of close over N bars (a price level).", lambda d, n: ind.sma(d.close, n)),
    "price_ema_N_ratio": ("close / EMA(N) − 1.", lambda d, n: _ratio(d.close, ind.ema(d.close, n))),
    "volatility_N": (
        "Std of one-bar log returns over N bars.",
        lambda d, n: ind.rolling_volatility(d.close, n),
    ),
    "volume_ratio_N": ("Volume / its N-bar mean.", lambda d, n: ind.volume_ratio(d.volume, n)),
    "atr_N": (
        "Average true range over N bars, relative to close.",
        lambda d, n: ind.atr(d.high, d.low, d.close, n) / d.close,
    ),
    "bollinger_pct_b_N": (
        "Position within the N-bar Bollinger bands (0 = lower, 1 = upper).",
        _pct_b,
    ),
    "return_N": ("Log return over the last N bars.", _return),
}
FIXED: dict[str, tuple[str, Callable[[MarketData], np.ndarray]]] = {
    "macd": (
        "MACD line (EMA 12 − EMA 26), relative to close.",
        lambda d: ind.macd(d.close)[0] / d.close,
    ),
    "macd_signal": (
        "MACD signal line (EMA 9 of MACD), relative to close.",
        lambda d: ind.macd(d.close)[1] / d.close,
    ),
    "macd_hist": ("MACD histogram, relative to close.", lambda d: ind.macd(d.close)[2] / d.close),
}
_COMPILED = [
    (re.compile("^" + p.replace("N", r"(\d+)") + "$"), f) for p, (_, f) in PATTERNS.items()
]


def lookback(name: str) -> int:
    """Bars a feature needs before it is defined (for the 'too little data' check)."""
    match = re.search(r"_(\d+)", name)
    return int(match[1]) if match else 35


def reads_volume(name: str) -> bool:
    """Whether the feature ``name`` is computed from volume."""
    return name.startswith("volume_")


def compute_feature(data: MarketData, name: str, field: str = "spec.features") -> np.ndarray:
    """One feature's values for every bar (NaN during its warm-up)."""
    if reads_volume(name) and not data.has_volume:
        raise InputError(
            field,
            f"{name} reads volume, which the data does not have (its volume column is "
            "missing, empty or all zero); drop it from features",
        )
    if name in FIXED:
        return np.asarray(FIXED[name][1](data), dtype=float)
    for pattern, function in _COMPILED:
        match = pattern.match(name)
        if match:
            period = int(match[1])
            if period < 1:
                break
            return np.asarray(function(data, period), dtype=float)
    known = sorted(FIXED) + sorted(PATTERNS)
    raise InputError(field, f"unknown feature '{name}'; use one of {known} (N a number of bars)")


def feature_matrix(data: MarketData, names: list[str]) -> np.ndarray:
    """Columns of the named features, one row per bar."""
    return np.column_stack(
        [compute_feature(data, name, f"spec.features[{i}]") for i, name in enumerate(names)]
    )
