"""``FeatureAnalysis``: which market features predict the target, scored out of sample."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from stratopt.api._base import ApiModel, first_repeated
from stratopt.api._resource import CrdInfo, Resource
from stratopt.api.v1alpha1.backtest import DataSpec
from stratopt.api.v1alpha1.status import RunSpec, RunStatus

DEFAULT_FEATURES = (
    "rsi_14",
    "ema_20",
    "price_ema_20_ratio",
    "macd",
    "macd_signal",
    "macd_hist",
    "volatility_20",
    "volume_ratio_20",
    "atr_14",
    "bollinger_pct_b_20",
    "return_1",
    "return_5",
    "return_20",
)


class TargetSpec(ApiModel):
    """What the model predicts, ``horizon`` bars ahead."""

    kind: Literal["direction", "return"] = Field(
        default="direction",
        description="'direction': whether close rises over the horizon "
        "(classification, scored by ROC AUC); 'return': the log return (regression, R²).",
    )
    horizon: int = Field(default=5, ge=1, le=1000, description="Bars ahead.")


class ModelSpec(ApiModel):
    """The scikit-learn model that learns the target from the features."""

    name: Literal["random_forest", "gradient_boosting", "extra_trees"] = Field(
        default="random_forest", description="random_forest, gradient_boosting or extra_trees."
    )
    n_estimators: int = Field(default=100, ge=1, le=5000, description="Trees.")
    max_depth: int | None = Field(default=6, ge=1, le=64, description="Tree depth limit.")
    min_samples_leaf: int = Field(
        default=50,
        ge=1,
        description="Samples per leaf at least; large values resist fitting noise.",
    )


class ValidationSpec(ApiModel):
    """Time-ordered cross-validation: train on the past, test on the next block."""

    folds: int = Field(default=5, ge=2, le=50, description="Test blocks, in time order.")
    gap: int | None = Field(
        default=None,
        ge=0,
        description="Bars dropped between training "
        "and test data (embargo); at least the horizon, which is the "
        "default, so no training label overlaps the test block.",
    )


class ImportanceSpec(ApiModel):
    """How importance is measured."""

    method: Literal["permutation", "impurity"] = Field(
        default="permutation",
        description="'permutation': the drop in held-out score when a "
        "feature is shuffled (default, honest); 'impurity': the trees' split gains "
        "(in-sample, fast, biased towards high-cardinality features).",
    )
    repeats: int = Field(default=5, ge=1, le=100, description="Shuffles per feature and fold.")


class FeatureAnalysisSpec(RunSpec):
    """Rank market features by how well they predict the target out of sample."""

    data: DataSpec = Field(description="Market data.")
    features: list[str] = Field(
        default_factory=lambda: list(DEFAULT_FEATURES),
        min_length=1,
        max_length=200,
        json_schema_extra={"x-kubernetes-list-type": "set"},
        description="Feature names from the "
        "catalogue (see the README), e.g. rsi_14, ema_50, return_5.",
    )
    target: TargetSpec = Field(default_factory=TargetSpec, description="The target.")
    model: ModelSpec = Field(default_factory=ModelSpec, description="The model.")
    validation: ValidationSpec = Field(
        default_factory=ValidationSpec, description="Cross-validation."
    )
    importance: ImportanceSpec = Field(
        default_factory=ImportanceSpec, description="Importance method."
    )
    top_k: int = Field(default=5, ge=1, le=200, description="How many features topFeatures lists.")
    seed: int = Field(
        default=0,
        ge=0,
        le=2**32 - 1,
        description="Seed of the model and the shuffles; the same seed gives the same ranking.",
    )

    @model_validator(mode="after")
    def _features_once(self) -> FeatureAnalysisSpec:
        repeated = first_repeated(self.features)
        if repeated is not None:
            raise ValueError(
                f"features: '{repeated}' is listed more than once; each feature is ranked once"
            )
        return self

    @model_validator(mode="after")
    def _gap_covers_horizon(self) -> FeatureAnalysisSpec:
        gap = self.validation.gap
        if gap is not None and gap < self.target.horizon:
            raise ValueError(
                f"validation.gap ({gap}) must be at least target.horizon "
                f"({self.target.horizon}) so no label overlaps a test fold"
            )
        return self

    @property
    def embargo(self) -> int:
        return self.validation.gap if self.validation.gap is not None else self.target.horizon


class FeatureImportance(ApiModel):
    """One feature's importance."""

    name: str = Field(description="Feature name.")
    importance: float = Field(description="Mean importance over folds (and shuffles).")
    std: float = Field(description="Its standard deviation.")
    rank: int = Field(description="1 = most important.")


#: How the warning about an analysis without skill begins, so that a forecast fed from
#: the analysis can tell.
NO_SKILL = "the model has no skill"


class FeatureAnalysisStatus(RunStatus):
    """The ranking and how well the model predicts, written by the operator."""

    features: list[FeatureImportance] = Field(
        default_factory=list, description="Every feature, most important first."
    )
    top_features: list[str] = Field(default_factory=list, description="The topK names.")
    model_score: float | None = Field(default=None, description="Mean out-of-sample score.")
    baseline_score: float | None = Field(
        default=None,
        description="What a trivial predictor "
        "(class prior or training mean) scores on the same folds.",
    )
    score_metric: str | None = Field(
        default=None, description="roc_auc (direction) or r2 (return)."
    )
    n_samples: int | None = Field(default=None, description="Rows used (after warm-up).")
    n_features: int | None = Field(default=None, description="Features used.")


class FeatureAnalysis(Resource):
    """The FeatureAnalysis resource."""

    crd = CrdInfo(
        kind="FeatureAnalysis",
        plural="featureanalyses",
        short_names=("fa",),
        spec=FeatureAnalysisSpec,
        status=FeatureAnalysisStatus,
        description="Engineers features from OHLCV bars and ranks them by out-of-sample "
        "importance for predicting the target.",
        printer_columns=(
            {"name": "Phase", "type": "string", "jsonPath": ".status.phase"},
            {"name": "Score", "type": "number", "jsonPath": ".status.modelScore"},
            {"name": "Baseline", "type": "number", "jsonPath": ".status.baselineScore"},
            {"name": "Top", "type": "string", "jsonPath": ".status.topFeatures[0]"},
            {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"},
        ),
    )
