"""``ForecastRun``: LSTM forecasts of the next bars with calibrated intervals."""

from __future__ import annotations

from typing import Literal

from pydantic import ConfigDict, Field, model_validator

from stratopt.api._base import ApiModel, first_repeated
from stratopt.api._resource import CrdInfo, Resource
from stratopt.api.v1alpha1.backtest import DataSpec
from stratopt.api.v1alpha1.status import RunSpec, RunStatus

DEFAULT_FORECAST_FEATURES = ("return_1", "rsi_14", "volatility_20", "volume_ratio_20")


class LstmSpec(ApiModel):
    """The network: stacked LSTM layers, then a dense layer with one output per step."""

    units: list[int] = Field(
        default_factory=lambda: [64, 64],
        min_length=1,
        max_length=4,
        description="Units of each LSTM layer, first to last.",
    )
    dropout: float = Field(
        default=0.2,
        ge=0,
        lt=1,
        description="Dropout after each layer (also what Monte Carlo dropout samples).",
    )


class TrainingSpec(ApiModel):
    """How the network is trained."""

    epochs: int = Field(default=30, ge=1, le=10_000, description="Epochs at most.")
    batch_size: int = Field(
        default=32,
        ge=1,
        le=65_536,
        description="Sequences per batch; halved automatically after an out-of-memory error.",
    )
    patience: int = Field(
        default=5, ge=1, description="Epochs without validation improvement before stopping early."
    )
    learning_rate: float = Field(default=1e-3, gt=0, le=1, description="Adam learning rate.")
    validation_split: float = Field(
        default=0.15,
        gt=0,
        lt=0.5,
        description="Share of the "
        "data (after training, before test) used to stop early "
        "and calibrate the intervals.",
    )
    test_split: float = Field(
        default=0.15,
        gt=0,
        lt=0.5,
        description="Share of the data, at the end, held out to measure accuracy.",
    )


class IntervalSpec(ApiModel):
    """Prediction intervals."""

    level: float = Field(default=0.95, gt=0.5, lt=1, description="Coverage aimed at.")
    method: Literal["mc_dropout", "quantile"] = Field(
        default="mc_dropout",
        description="'mc_dropout': the mean of dropout samples, with "
        "intervals calibrated on the validation part (split conformal) in units of the "
        "recent volatility, so they widen in volatile regimes; 'quantile': the "
        "network learns the interval bounds with a pinball loss.",
    )
    samples: int = Field(default=30, ge=2, le=1000, description="Dropout samples (mc_dropout).")


class ResourcesSpec(ApiModel):
    """What the Job asks of the cluster."""

    gpu: int = Field(
        default=0,
        ge=0,
        le=16,
        description="nvidia.com/gpu to request; 0 runs "
        "on CPU. Locally, a GPU is used whenever TensorFlow sees one.",
    )
    memory: str = Field(
        default="4Gi", pattern=r"^[0-9]+(Ki|Mi|Gi|Ti)?$", description="Memory to request."
    )
    node_selector: dict[str, str] = Field(
        default_factory=dict,
        description="Node labels "
        "the pod requires (with gpu > 0, default "
        "nvidia.com/gpu.present: 'true').",
    )


class ForecastRunSpec(RunSpec):
    """Forecast the next ``horizon`` bars with an LSTM."""

    model_config = ConfigDict(
        json_schema_extra={
            "x-kubernetes-validations": [
                {
                    "rule": "!has(self.features) || !has(self.fromFeatureAnalysis)",
                    "message": "set features or fromFeatureAnalysis, not both",
                    "fieldPath": ".fromFeatureAnalysis",
                }
            ]
        }
    )

    data: DataSpec = Field(description="Market data.")
    target: Literal["close", "open", "high", "low"] = Field(
        default="close", description="Price forecast."
    )
    features: list[str] | None = Field(
        default=None,
        min_length=1,
        max_length=64,
        json_schema_extra={"x-kubernetes-list-type": "set"},
        description="Input features from the catalogue; "
        "default return_1, rsi_14, volatility_20, volume_ratio_20.",
    )
    from_feature_analysis: str | None = Field(
        default=None,
        description="Use the topFeatures of the FeatureAnalysis of this name: on a "
        "cluster one in the same namespace (the run waits until it has succeeded); with "
        "stratopt run one among the resources given (it runs first).",
    )
    sequence_length: int = Field(
        default=60, ge=2, le=2000, description="Bars of history per input sequence."
    )
    horizon: int = Field(
        default=30, ge=1, le=1000, description="Bars forecast, directly (one output per step)."
    )
    model: LstmSpec = Field(default_factory=LstmSpec, description="The network.")
    training: TrainingSpec = Field(default_factory=TrainingSpec, description="Training.")
    intervals: IntervalSpec = Field(default_factory=IntervalSpec, description="Intervals.")
    resources: ResourcesSpec = Field(
        default_factory=ResourcesSpec, description="Cluster resources."
    )
    seed: int = Field(
        default=0,
        ge=0,
        le=2**31 - 1,
        description="Seed; on CPU the same seed gives the same forecast.",
    )

    @model_validator(mode="after")
    def _one_feature_source(self) -> ForecastRunSpec:
        if self.features is not None and self.from_feature_analysis is not None:
            raise ValueError("set features or fromFeatureAnalysis, not both")
        repeated = first_repeated(self.features or [])
        if repeated is not None:
            raise ValueError(f"features: '{repeated}' is listed more than once")
        return self


class Prediction(ApiModel):
    """One forecast step."""

    step: int = Field(description="Bars ahead, from 1.")
    timestamp: str = Field(description="Expected time of that bar (RFC 3339).")
    value: float = Field(description="Point forecast.")
    lower: float = Field(description="Lower bound of the interval.")
    upper: float = Field(description="Upper bound of the interval.")


class ForecastMetrics(ApiModel):
    """Accuracy on the held-out test part, over every step of every test sequence."""

    rmse: float = Field(description="Root mean squared error, in price.")
    mae: float = Field(description="Mean absolute error, in price.")
    mape: float = Field(description="Mean absolute percentage error.")
    directional_accuracy: float = Field(
        description="Share of forecasts whose direction from the last close is right."
    )
    naive_rmse: float = Field(description="RMSE of the random-walk forecast (last close).")
    skill: float = Field(description="1 − rmse / naiveRmse: above 0 beats the random walk.")
    interval_coverage: float = Field(description="Share of actual prices inside the intervals.")
    interval_width: float | None = Field(
        default=None, description="Mean width of the intervals, in price."
    )


class ForecastRunStatus(RunStatus):
    """The forecast and its honest accuracy, written by the operator."""

    predictions: list[Prediction] = Field(
        default_factory=list, description="One entry per step of the horizon."
    )
    metrics: ForecastMetrics | None = Field(default=None, description="Test-part accuracy.")
    model_accuracy: float | None = Field(
        default=None, description="The directional accuracy on the test part."
    )
    features: list[str] = Field(default_factory=list, description="Input features used.")
    device: str | None = Field(default=None, description="GPU name, or CPU.")
    epochs_run: int | None = Field(default=None, description="Epochs before early stopping.")
    training_seconds: float | None = Field(default=None, description="Training wall time.")


class ForecastRun(Resource):
    """The ForecastRun resource."""

    crd = CrdInfo(
        kind="ForecastRun",
        plural="forecastruns",
        short_names=("fcrun",),
        spec=ForecastRunSpec,
        status=ForecastRunStatus,
        description="Trains an LSTM on OHLCV bars and forecasts the next bars with "
        "prediction intervals; runs on a GPU node when asked.",
        printer_columns=(
            {"name": "Phase", "type": "string", "jsonPath": ".status.phase"},
            {"name": "Horizon", "type": "integer", "jsonPath": ".spec.horizon"},
            {"name": "Skill", "type": "number", "jsonPath": ".status.metrics.skill"},
            {"name": "Coverage", "type": "number", "jsonPath": ".status.metrics.intervalCoverage"},
            {"name": "Device", "type": "string", "jsonPath": ".status.device"},
            {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"},
        ),
    )
