"""ForecastRun: skill where there is a pattern, none where there is not, calibrated
intervals, determinism on CPU, and clear errors. Networks are tiny to fit CI."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest

from stratopt.api import SpecError, parse_model
from stratopt.api.v1alpha1 import ForecastRunSpec
from stratopt.data import MarketData, synthesize_ohlcv
from stratopt.errors import DataError, InputError
from stratopt.forecast import forecast

SMALL: dict[str, Any] = {
    "features": ["return_1", "volatility_20"],
    "sequenceLength": 24,
    "horizon": 4,
    "model": {"units": [16], "dropout": 0.1},
    "training": {"epochs": 12, "batchSize": 64, "patience": 3, "learningRate": 0.005},
    "intervals": {"level": 0.95, "samples": 8},
}


def spec(**changes: Any) -> ForecastRunSpec:
    return parse_model(
        ForecastRunSpec, {"data": {"source": "synthetic:"}, **SMALL, **changes}, "spec"
    )


def as_data(close: np.ndarray) -> MarketData:
    open_ = np.concatenate(([close[0]], close[:-1]))
    frame = pd.DataFrame(
        {
            "open": open_,
            "high": np.maximum(open_, close) * 1.0001,
            "low": np.minimum(open_, close) * 0.9999,
            "close": close,
            "volume": np.full(len(close), 1000.0),
        },
        index=pd.date_range("2021-01-01", periods=len(close), freq="h"),
    )
    return MarketData.from_frame(frame, pip_size=1e-4, tick_size=1e-5)


def cycle(bars: int = 2600, seed: int = 1) -> MarketData:
    """A learnable daily cycle in returns, plus noise."""
    rng = np.random.default_rng(seed)
    t = np.arange(bars)
    returns = 0.002 * np.sin(2 * np.pi * t / 24) + 0.001 * rng.standard_normal(bars)
    return as_data(1.1 * np.exp(np.cumsum(returns)))


@pytest.fixture(scope="module")
def learned() -> Any:
    return forecast(spec(seed=3), cycle())


def test_learnable_pattern_has_skill_and_calibrated_intervals(learned: Any) -> None:
    status, _ = learned
    assert status.metrics.skill > 0.1
    assert 0.85 <= status.metrics.interval_coverage <= 0.99
    assert status.model_accuracy == status.metrics.directional_accuracy > 0.55
    assert len(status.predictions) == 4 and status.device == "CPU"
    assert all(p.lower <= p.value <= p.upper for p in status.predictions)
    assert status.epochs_run >= 1 and status.training_seconds > 0


def test_random_walk_claims_no_skill() -> None:
    data = MarketData.from_frame(
        synthesize_ohlcv("synthetic:walk?bars=2600&seed=4"), pip_size=1e-4, tick_size=1e-5
    )
    status, _ = forecast(spec(seed=3), data)
    assert status.metrics.skill < 0.03
    assert 0.85 <= status.metrics.interval_coverage <= 0.995


def test_same_seed_same_forecast_on_cpu(learned: Any) -> None:
    again, _ = forecast(spec(seed=3), cycle())
    assert again.predictions == learned[0].predictions
    assert again.metrics == learned[0].metrics


def test_quantile_intervals() -> None:
    status, _ = forecast(spec(seed=3, intervals={"method": "quantile", "level": 0.9}), cycle())
    assert all(p.lower <= p.value <= p.upper for p in status.predictions)
    assert 0.7 <= status.metrics.interval_coverage <= 0.99


def test_short_data_and_bad_specs() -> None:
    with pytest.raises(DataError, match="needs at least 1000") as caught:
        forecast(spec(), cycle(900))
    assert caught.value.field == "spec.data"
    with pytest.raises(SpecError, match="not both"):
        spec(fromFeatureAnalysis="eurusd-features")
    with pytest.raises(InputError, match="names FeatureAnalysis 'absent'") as missing:
        forecast(spec(features=None, fromFeatureAnalysis="absent"), cycle())
    assert missing.value.field == "spec.fromFeatureAnalysis"


def regimes(bars: int = 2600, seed: int = 2) -> MarketData:
    """A random walk whose volatility switches between calm and wild every 150 bars."""
    rng = np.random.default_rng(seed)
    scale = np.where((np.arange(bars) // 150) % 2 == 0, 0.0005, 0.003)
    return as_data(1.1 * np.exp(np.cumsum(scale * rng.standard_normal(bars))))


def test_intervals_widen_in_volatile_regimes_and_keep_their_coverage() -> None:
    from stratopt.forecast.dataset import prepare
    from stratopt.forecast.run import input_features

    data, run_spec = regimes(), spec(seed=3)
    status, model = forecast(run_spec, data)
    assert 0.85 <= status.metrics.interval_coverage <= 0.99
    assert status.metrics.interval_width is not None and status.metrics.interval_width > 0
    sequences = prepare(run_spec, data, input_features(run_spec))
    rows = slice(sequences.test.start, sequences.test.stop)
    _, lower, upper = model.predict(sequences.inputs[rows], sequences.volatility[rows])
    width = (upper - lower).mean(axis=1)
    calm = width[sequences.volatility[rows] < np.quantile(sequences.volatility[rows], 0.25)]
    wild = width[sequences.volatility[rows] > np.quantile(sequences.volatility[rows], 0.75)]
    assert wild.mean() > 3 * calm.mean()
