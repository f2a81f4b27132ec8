"""FeatureAnalysis: causal features, honest scores, and clear errors."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest

from stratopt.api import SpecError, parse_model
from stratopt.api.v1alpha1 import FeatureAnalysisSpec
from stratopt.backtest import indicators
from stratopt.data import MarketData, synthesize_ohlcv
from stratopt.errors import DataError, InputError
from stratopt.features import FIXED, PATTERNS, analyze_features, compute_feature

QUICK: dict[str, Any] = {
    "model": {"nEstimators": 30, "maxDepth": 4, "minSamplesLeaf": 40},
    "validation": {"folds": 3},
    "importance": {"repeats": 2},
}


def spec(**changes: Any) -> FeatureAnalysisSpec:
    document = {"data": {"source": "synthetic:"}, **QUICK, **changes}
    return parse_model(FeatureAnalysisSpec, document, "spec")


def as_data(frame: pd.DataFrame) -> MarketData:
    return MarketData.from_frame(frame, pip_size=1e-4, tick_size=1e-5)


def planted(bars: int = 5000, seed: int = 3) -> MarketData:
    """Returns whose next bar leans with volume surprises: volume_ratio_20 drives them."""
    rng = np.random.default_rng(seed)
    volume = rng.lognormal(7, 0.5, bars)
    ratio = np.nan_to_num(indicators.volume_ratio(volume, 20), nan=1.0)
    sigma = 0.001
    returns = sigma * rng.standard_normal(bars)
    returns[1:] += 0.8 * sigma * np.tanh(2 * (ratio[:-1] - 1))
    close = 1.1 * np.exp(np.cumsum(returns))
    open_ = np.concatenate(([1.1], close[:-1]))
    frame = pd.DataFrame(
        {
            "open": open_,
            "high": np.maximum(open_, close) * 1.0002,
            "low": np.minimum(open_, close) * 0.9998,
            "close": close,
            "volume": volume,
        },
        index=pd.date_range("2020-01-01", periods=bars, freq="h"),
    )
    return as_data(frame)


def test_features_never_look_ahead() -> None:
    data = as_data(synthesize_ohlcv("synthetic:gbm?bars=3000&seed=5"))
    names = [*FIXED, *(p.replace("N", "14") for p in PATTERNS)]
    for name in names:
        full = compute_feature(data, name)
        cut = compute_feature(data.slice(0, 2000), name)
        np.testing.assert_allclose(full[:2000], cut, rtol=1e-12, equal_nan=True, err_msg=name)


def test_planted_feature_ranks_first_and_beats_the_baseline() -> None:
    status = analyze_features(spec(target={"kind": "direction", "horizon": 1}), planted())
    assert status.top_features[0] == "volume_ratio_20"
    assert status.score_metric == "roc_auc" and status.baseline_score == pytest.approx(0.5)
    assert status.model_score is not None and status.model_score > status.baseline_score + 0.05
    assert not any(w.startswith("the model has no skill") for w in status.warnings)
    # The planted feature stands out; the rest of the top five are noise, and said to be.
    (vague,) = status.warnings
    assert vague.startswith("topFeatures ") and "volume_ratio_20" not in vague


def test_planted_feature_found_for_returns_too() -> None:
    status = analyze_features(spec(target={"kind": "return", "horizon": 1}), planted())
    assert status.top_features[0] == "volume_ratio_20"
    assert status.score_metric == "r2"
    assert status.model_score is not None and status.baseline_score is not None
    assert status.model_score > status.baseline_score


def test_random_walk_scores_near_the_baseline() -> None:
    data = as_data(synthesize_ohlcv("synthetic:walk?bars=6000&seed=9"))
    status = analyze_features(spec(), data)
    assert status.model_score is not None
    assert abs(status.model_score - 0.5) < 0.03, "a random walk must not look predictable"
    # No feature stands out from its own fold-to-fold noise.
    assert all(f.importance < 3 * f.std + 1e-3 for f in status.features), status.features
    # And the analysis says so rather than publishing a ranking of noise.
    assert status.warnings and status.warnings[0].startswith("the model has no skill: its ")


def test_same_seed_same_ranking() -> None:
    data = planted(3000)
    first = analyze_features(spec(seed=4), data)
    assert analyze_features(spec(seed=4), data) == first
    assert [f.rank for f in first.features] == list(range(1, len(first.features) + 1))
    assert first.n_features == 13 and first.top_features == [f.name for f in first.features[:5]]


def test_errors_name_the_field() -> None:
    with pytest.raises(DataError, match="needs at least") as caught:
        analyze_features(spec(), planted(300))
    assert caught.value.field == "spec.data"
    with pytest.raises(InputError, match="unknown feature 'rsi'") as unknown:
        analyze_features(spec(features=["rsi_14", "rsi"]), planted(3000))
    assert unknown.value.field == "spec.features[1]"
    with pytest.raises(SpecError) as gap:
        spec(target={"horizon": 10}, validation={"folds": 3, "gap": 2})
    assert "must be at least target.horizon" in str(gap.value)
