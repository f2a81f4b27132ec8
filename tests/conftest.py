"""Shared fixtures: sample market data as :class:`MarketData` and backtest specs."""

from __future__ import annotations

import os
from pathlib import Path

# Containers detect the CPU's OpenBLAS kernels; a host override of them would give its
# local runs (this process and its children) other roundings than the pods they are
# compared with, which a Gaussian process turns into other proposals. Popped before
# numpy loads OpenBLAS.
os.environ.pop("OPENBLAS_CORETYPE", None)

import pandas as pd
import pytest

from stratopt.api.v1alpha1 import BacktestSpec
from stratopt.data import MarketData, normalize_columns, synthesize_ohlcv

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"


def sample_frame(name: str) -> pd.DataFrame:
    """A data set shipped by backtesting.py (GOOG daily, EURUSD hourly), normalized."""
    module = pytest.importorskip("backtesting.test")
    return normalize_columns(getattr(module, name).copy())


def market_data(frame: pd.DataFrame, pip_size: float, tick_size: float) -> MarketData:
    return MarketData.from_frame(frame, pip_size=pip_size, tick_size=tick_size)


@pytest.fixture(scope="session")
def eurusd() -> MarketData:
    return market_data(sample_frame("EURUSD"), 0.0001, 0.00001)


@pytest.fixture(scope="session")
def goog() -> MarketData:
    return market_data(sample_frame("GOOG"), 0.01, 0.01)


@pytest.fixture(scope="session")
def synthetic_hourly() -> MarketData:
    frame = synthesize_ohlcv("synthetic:gbm?bars=20000&freq=1h&seed=3")
    return market_data(frame, 0.0001, 0.00001)


def backtest_spec(**overrides: object) -> BacktestSpec:
    document: dict[str, object] = {
        "data": {"source": "synthetic:gbm?bars=5000&freq=1h&seed=1"},
        "strategy": {"name": "rsi_reversion"},
    }
    document.update(overrides)
    return BacktestSpec.model_validate(document)
