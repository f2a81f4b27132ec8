"""Rank features by out-of-sample importance with scikit-learn.

Folds are time-ordered (expanding training window, test on the next block) with an
embargo of at least the target horizon between them, so no training label overlaps
the test block. Permutation importance is measured on each held-out block.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.dummy import DummyClassifier, DummyRegressor
from sklearn.ensemble import (
    ExtraTreesClassifier,
    ExtraTreesRegressor,
    GradientBoostingClassifier,
    GradientBoostingRegressor,
    RandomForestClassifier,
    RandomForestRegressor,
)
from sklearn.inspection import permutation_importance
from sklearn.metrics import r2_score, roc_auc_score
from sklearn.model_selection import TimeSeriesSplit

from stratopt.api.v1alpha1.features import (
    NO_SKILL,
    FeatureAnalysisSpec,
    FeatureAnalysisStatus,
    FeatureImportance,
)
from stratopt.api.v1alpha1.status import Phase
from stratopt.data import MarketData
from stratopt.errors import DataError
from stratopt.features.catalogue import feature_matrix, lookback, reads_volume

#: Fewer usable rows than this per fold cannot be scored meaningfully.
MIN_ROWS_PER_FOLD = 100

_MODELS = {
    ("random_forest", "direction"): RandomForestClassifier,
    ("random_forest", "return"): RandomForestRegressor,
    ("extra_trees", "direction"): ExtraTreesClassifier,
    ("extra_trees", "return"): ExtraTreesRegressor,
    ("gradient_boosting", "direction"): GradientBoostingClassifier,
    ("gradient_boosting", "return"): GradientBoostingRegressor,
}


@dataclass(frozen=True)
class Dataset:
    """Features and target, warm-up and unlabeled tail removed."""

    X: np.ndarray
    y: np.ndarray
    names: list[str]


def build_dataset(spec: FeatureAnalysisSpec, data: MarketData) -> Dataset:
    """The feature matrix and the target, rows in time order. The default features leave
    out those that read volume when the data has none; features a spec names do not."""
    horizon = spec.target.horizon
    names = list(spec.features)
    if "features" not in spec.model_fields_set and not data.has_volume:
        names = [n for n in names if not reads_volume(n)]
    needed = max(lookback(n) for n in names) + horizon + spec.validation.folds * MIN_ROWS_PER_FOLD
    if len(data) < needed:
        raise DataError(
            "spec.data",
            f"has {len(data)} bars but this analysis needs at least "
            f"{needed} (longest lookback + horizon + {MIN_ROWS_PER_FOLD} per fold)",
        )
    X = feature_matrix(data, names)
    future = np.full(len(data), np.nan)
    future[:-horizon] = np.log(data.close[horizon:] / data.close[:-horizon])
    y = (future > 0).astype(float) if spec.target.kind == "direction" else future
    usable = np.isfinite(X).all(axis=1) & np.isfinite(future)
    if usable.sum() < spec.validation.folds * MIN_ROWS_PER_FOLD:
        raise DataError(
            "spec.data",
            f"only {int(usable.sum())} bars have every feature and a "
            "target; use more data or fewer, shorter features",
        )
    return Dataset(X[usable], y[usable], names)


class FeatureRanker:
    """Scores features out of sample; scikit-learn style (learned attributes end in ``_``).

    Args:
        spec: the analysis spec (model, validation, importance, seed).
    """

    def __init__(self, spec: FeatureAnalysisSpec) -> None:
        self.spec = spec

    def _model(self, seed: int) -> BaseEstimator:
        settings = self.spec.model
        model_class = _MODELS[(settings.name, self.spec.target.kind)]
        options = {
            "n_estimators": settings.n_estimators,
            "max_depth": settings.max_depth,
            "min_samples_leaf": settings.min_samples_leaf,
            "random_state": seed,
        }
        if settings.name != "gradient_boosting":
            options["n_jobs"] = 1
        return model_class(**options)

    def _score(self, model: BaseEstimator, X: np.ndarray, y: np.ndarray) -> float:
        if self.spec.target.kind == "direction":
            if len(np.unique(y)) < 2:
                return 0.5
            return float(roc_auc_score(y, model.predict_proba(X)[:, 1]))
        return float(r2_score(y, model.predict(X)))

    def fit(self, dataset: Dataset) -> FeatureRanker:
        spec = self.spec
        classification = spec.target.kind == "direction"
        scoring = "roc_auc" if classification else "r2"
        splitter = TimeSeriesSplit(n_splits=spec.validation.folds, gap=spec.embargo)
        # One seed per fold drawn up front from the run's seed, as permutation importance does.
        fold_seeds = np.random.default_rng(spec.seed).integers(
            0, 2**31 - 1, size=spec.validation.folds
        )
        scores, baselines, importances = [], [], []
        for (train, test), seed in zip(splitter.split(dataset.X), fold_seeds, strict=True):
            model = self._model(int(seed)).fit(dataset.X[train], dataset.y[train])
            scores.append(self._score(model, dataset.X[test], dataset.y[test]))
            dummy = (
                DummyClassifier(strategy="prior")
                if classification
                else DummyRegressor(strategy="mean")
            ).fit(dataset.X[train], dataset.y[train])
            baselines.append(self._score(dummy, dataset.X[test], dataset.y[test]))
            if spec.importance.method == "permutation":
                result = permutation_importance(
                    model,
                    dataset.X[test],
                    dataset.y[test],
                    scoring=scoring,
                    n_repeats=spec.importance.repeats,
                    random_state=int(seed),
                    n_jobs=1,
                )
                importances.append(result.importances)  # features × repeats
            else:
                importances.append(np.asarray(model.feature_importances_)[:, None])
        stacked = np.concatenate(importances, axis=1)
        self.scores_ = np.array(scores)
        self.baseline_scores_ = np.array(baselines)
        self.importances_mean_ = stacked.mean(axis=1)
        self.importances_std_ = stacked.std(axis=1)
        self.score_metric_ = scoring
        return self


def analyze_features(spec: FeatureAnalysisSpec, data: MarketData) -> FeatureAnalysisStatus:
    """Run the analysis; return its status (phase Succeeded)."""
    dataset = build_dataset(spec, data)
    ranker = FeatureRanker(spec).fit(dataset)
    order = np.argsort(-ranker.importances_mean_, kind="stable")
    features = [
        FeatureImportance(
            name=dataset.names[i],
            importance=float(ranker.importances_mean_[i]),
            std=float(ranker.importances_std_[i]),
            rank=rank,
        )
        for rank, i in enumerate(order, start=1)
    ]
    status = FeatureAnalysisStatus(
        phase=Phase.SUCCEEDED,
        features=features,
        top_features=[f.name for f in features[: spec.top_k]],
        model_score=float(ranker.scores_.mean()),
        baseline_score=float(ranker.baseline_scores_.mean()),
        score_metric=ranker.score_metric_,
        n_samples=len(dataset.y),
        n_features=len(dataset.names),
    )
    status.warnings = skill_warnings(status, ranker.scores_ - ranker.baseline_scores_)
    return status


def skill_warnings(status: FeatureAnalysisStatus, margins: np.ndarray) -> list[str]:
    """A model whose margin over its baseline is not significant across folds (a
    one-sided t-test at 95%) ranks noise; so do importances no larger than their own
    spread."""
    from scipy.stats import t

    found = []
    folds = len(margins)
    noise = float(margins.std(ddof=1) / np.sqrt(folds)) if folds > 1 else 0.0
    needed = float(t.ppf(0.95, folds - 1)) * noise if folds > 1 else 0.0
    if float(margins.mean()) <= needed:
        found.append(
            f"{NO_SKILL}: its out-of-sample {status.score_metric} of {status.model_score:.3f} "
            f"does not beat the baseline's {status.baseline_score:.3f} by more than chance "
            f"across its {folds} folds would ({needed:.3f}), so its ranking ranks noise; do "
            "not trade or forecast on its topFeatures (try another target, horizon or features)"
        )
    top = set(status.top_features)
    vague = [f.name for f in status.features if f.name in top and f.importance <= f.std]
    if vague:
        found.append(
            f"topFeatures {', '.join(vague)}: importance no larger than its spread across "
            "folds and repeats, indistinguishable from none"
        )
    return found
