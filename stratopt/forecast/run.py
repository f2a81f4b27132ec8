"""Train, evaluate on the held-out part, and forecast: the ForecastRun's status."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from stratopt.api.v1alpha1 import ForecastRunSpec, ForecastRunStatus
from stratopt.api.v1alpha1.forecast import DEFAULT_FORECAST_FEATURES, ForecastMetrics, Prediction
from stratopt.api.v1alpha1.status import Phase
from stratopt.data import MarketData
from stratopt.errors import InputError
from stratopt.forecast.dataset import SequenceData, prepare
from stratopt.forecast.lstm import LstmForecaster


def input_features(spec: ForecastRunSpec) -> list[str]:
    """The features the network reads: given, or the default ones. A ``fromFeatureAnalysis``
    is resolved before (into ``features``) by whatever runs the analysis too."""
    if spec.from_feature_analysis is not None:
        from stratopt.api.documents import FIELD, missing_analysis

        raise InputError(FIELD, missing_analysis(spec.from_feature_analysis))
    if spec.features is not None:
        return list(spec.features)
    return list(DEFAULT_FORECAST_FEATURES)


def _prices(
    data: MarketData,
    spec: ForecastRunSpec,
    sequences: SequenceData,
    scaled: np.ndarray,
    rows: slice,
) -> np.ndarray:
    anchor = getattr(data, spec.target)[sequences.ends[rows]]
    return np.asarray(anchor[:, None] * np.exp(scaled * sequences.target_scale))


@dataclass(frozen=True)
class TestPart:
    """The forecasts of every held-out test sequence against what happened, in price."""

    times: pd.DatetimeIndex  # the bar each sequence's first forecast step falls on
    last: np.ndarray  # samples × 1: the price the forecast starts from
    actual: np.ndarray  # samples × steps
    forecast: np.ndarray
    lower: np.ndarray
    upper: np.ndarray

    def metrics(self) -> ForecastMetrics:
        """Accuracy over every step of every test sequence."""
        actual, forecast, last = self.actual, self.forecast, self.last
        error = forecast - actual
        rmse = float(np.sqrt(np.mean(error**2)))
        naive = float(np.sqrt(np.mean((last - actual) ** 2)))
        moved = actual != last
        direction = np.sign(forecast - last) == np.sign(actual - last)
        return ForecastMetrics(
            rmse=rmse,
            mae=float(np.mean(np.abs(error))),
            mape=float(np.mean(np.abs(error / actual)) * 100),
            directional_accuracy=float(direction[moved].mean()) if moved.any() else 0.0,
            naive_rmse=naive,
            skill=1 - rmse / naive if naive > 0 else 0.0,
            interval_coverage=float(np.mean((actual >= self.lower) & (actual <= self.upper))),
            interval_width=float(np.mean(self.upper - self.lower)),
        )

    def first_step(self) -> pd.DataFrame:
        """The one-step-ahead forecasts by bar: what a fan chart of the test part draws."""
        columns = {"actual": self.actual, "value": self.forecast}
        columns |= {"lower": self.lower, "upper": self.upper}
        return pd.DataFrame(
            {name: values[:, 0] for name, values in columns.items()},
            index=pd.DatetimeIndex(self.times, name="timestamp"),
        )


def test_part(
    spec: ForecastRunSpec, data: MarketData, sequences: SequenceData, model: LstmForecaster
) -> TestPart:
    rows = slice(sequences.test.start, sequences.test.stop)
    point, lower, upper = model.predict(sequences.inputs[rows], sequences.volatility[rows])
    ends = sequences.ends[rows]
    return TestPart(
        times=data.index[ends + 1],
        last=getattr(data, spec.target)[ends][:, None],
        actual=_prices(data, spec, sequences, sequences.targets[rows], rows),
        forecast=_prices(data, spec, sequences, point, rows),
        lower=_prices(data, spec, sequences, lower, rows),
        upper=_prices(data, spec, sequences, upper, rows),
    )


def _future_times(index: pd.DatetimeIndex, horizon: int) -> list[str]:
    """Expected bar times: the usual bar spacing, on the weekdays the history trades."""
    step = pd.Series(index[-200:]).diff().median()
    trading_days = set(index[-2000:].day_of_week)
    times: list[str] = []
    moment = index[-1]
    while len(times) < horizon:
        moment = moment + step
        if moment.day_of_week in trading_days:
            times.append(moment.isoformat())
    return times


def forecast(spec: ForecastRunSpec, data: MarketData) -> tuple[ForecastRunStatus, LstmForecaster]:
    """Fit, score on the test part, forecast the next ``horizon`` bars."""
    features = input_features(spec)
    sequences = prepare(spec, data, features)
    model = LstmForecaster(spec).fit(sequences)
    tested = test_part(spec, data, sequences, model)
    metrics = tested.metrics()
    model.test_predictions_ = tested.first_step()
    point, lower, upper = model.predict(sequences.latest, sequences.latest_volatility)
    last = float(getattr(data, spec.target)[-1])
    scale = sequences.target_scale
    values, lows, highs = (last * np.exp(a[0] * scale) for a in (point, lower, upper))
    times = _future_times(data.index, spec.horizon)
    predictions = [
        Prediction(
            step=k + 1,
            timestamp=times[k],
            value=float(values[k]),
            lower=float(min(lows[k], values[k])),
            upper=float(max(highs[k], values[k])),
        )
        for k in range(spec.horizon)
    ]
    status = ForecastRunStatus(
        phase=Phase.SUCCEEDED,
        predictions=predictions,
        metrics=metrics,
        model_accuracy=metrics.directional_accuracy,
        features=features,
        device=model.device_,
        epochs_run=model.epochs_run_,
        training_seconds=model.training_seconds_,
    )
    return status, model
