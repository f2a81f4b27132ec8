"""The LSTM forecaster (TensorFlow/Keras, imported lazily).

Direct multi-step: one network output per step of the horizon. Intervals come either
from Monte Carlo dropout, calibrated on the validation part by split conformal
prediction (so their coverage holds on data like the validation part), or from a
network trained with a pinball (quantile) loss.
"""

from __future__ import annotations

import contextlib
import sys
import time
from typing import TYPE_CHECKING, Any

import numpy as np

from stratopt.api.v1alpha1 import ForecastRunSpec
from stratopt.forecast._imports import import_tensorflow
from stratopt.forecast.dataset import SequenceData

if TYPE_CHECKING:
    import pandas as pd


def _device(tf: Any) -> str:
    gpus = tf.config.list_physical_devices("GPU")
    if not gpus:
        return "CPU"
    for gpu in gpus:
        # RuntimeError: already initialized, growth was set by an earlier run.
        with contextlib.suppress(RuntimeError):
            tf.config.experimental.set_memory_growth(gpu, True)
    details = tf.config.experimental.get_device_details(gpus[0])
    return str(details.get("device_name", gpus[0].name))


def _pinball(tf: Any, quantiles: np.ndarray, horizon: int) -> Any:
    q = tf.constant(np.repeat(quantiles, horizon)[None, :], dtype=tf.float32)

    def loss(y_true: Any, y_pred: Any) -> Any:
        error = tf.tile(y_true, [1, len(quantiles)]) - y_pred
        return tf.reduce_mean(tf.maximum(q * error, (q - 1) * error))

    return loss


class LstmForecaster:
    """Trains on :class:`SequenceData`; learned attributes end in ``_``."""

    def __init__(self, spec: ForecastRunSpec) -> None:
        self.spec = spec
        #: The one-step-ahead forecasts of the test part against the actuals (set when
        #: :func:`stratopt.forecast.forecast` scores the model), for the report.
        self.test_predictions_: pd.DataFrame | None = None

    def _build(self, tf: Any, shape: tuple[int, int], outputs: int) -> Any:
        keras = tf.keras
        layers: list[Any] = [keras.Input(shape=shape)]
        units = self.spec.model.units
        for position, size in enumerate(units):
            layers.append(keras.layers.LSTM(size, return_sequences=position < len(units) - 1))
            layers.append(keras.layers.Dropout(self.spec.model.dropout))
        layers.append(keras.layers.Dense(outputs))
        return keras.Sequential(layers)

    def fit(self, data: SequenceData) -> LstmForecaster:
        tf = import_tensorflow()
        spec = self.spec
        tf.keras.utils.set_random_seed(spec.seed)
        tf.config.experimental.enable_op_determinism()
        self.device_ = _device(tf)
        horizon = spec.horizon
        quantile = spec.intervals.method == "quantile"
        tail = (1 - spec.intervals.level) / 2
        self.quantiles_ = np.array([tail, 0.5, 1 - tail])
        outputs = 3 * horizon if quantile else horizon
        train, validation = data.train, data.validation
        x_train, y_train = (
            data.inputs[train.start : train.stop],
            data.targets[train.start : train.stop],
        )
        x_val = data.inputs[validation.start : validation.stop]
        y_val = data.targets[validation.start : validation.stop]
        batch = spec.training.batch_size
        started = time.perf_counter()
        while True:
            tf.keras.utils.set_random_seed(spec.seed)
            self.model_ = self._build(tf, x_train.shape[1:], outputs)
            self.model_.compile(
                optimizer=tf.keras.optimizers.Adam(spec.training.learning_rate),
                loss=_pinball(tf, self.quantiles_, horizon) if quantile else "mse",
            )
            stop = tf.keras.callbacks.EarlyStopping(
                patience=spec.training.patience, restore_best_weights=True
            )
            try:
                history = self.model_.fit(
                    x_train,
                    y_train,
                    validation_data=(x_val, y_val),
                    epochs=spec.training.epochs,
                    batch_size=batch,
                    shuffle=True,
                    callbacks=[stop],
                    verbose=0,
                )
                break
            except tf.errors.ResourceExhaustedError:
                if batch == 1:
                    raise
                print(
                    f"out of memory with batch size {batch}; retrying with {batch // 2}",
                    file=sys.stderr,
                    flush=True,
                )
                batch //= 2
        self.batch_size_ = batch
        self.training_seconds_ = time.perf_counter() - started
        self.epochs_run_ = len(history.history["loss"])
        self.seconds_per_epoch_ = self.training_seconds_ / self.epochs_run_
        if not quantile:
            # Split conformal on residuals in units of each sample's recent volatility
            # (normalized conformal): per step, their quantile on the validation part.
            # The intervals then widen in volatile regimes and narrow in calm ones, with
            # the same coverage guarantee on data exchangeable with the validation part.
            volatility = data.volatility[validation.start : validation.stop, None]
            residuals = np.abs(self._mean(x_val) - y_val) / volatility
            n = len(residuals)
            rank = min(1.0, np.ceil((n + 1) * spec.intervals.level) / n)
            self.half_width_ = np.quantile(residuals, rank, axis=0)
        return self

    def _mean(self, inputs: np.ndarray) -> np.ndarray:
        tf = import_tensorflow()
        samples = [
            self.model_(inputs, training=True).numpy() for _ in range(self.spec.intervals.samples)
        ]
        del tf
        return np.asarray(np.mean(samples, axis=0))

    def predict(
        self, inputs: np.ndarray, volatility: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(point, lower, upper) in scaled log-return space, samples × horizon each;
        ``volatility`` is each sample's (see :class:`SequenceData`)."""
        horizon = self.spec.horizon
        if self.spec.intervals.method == "quantile":
            out = self.model_.predict(inputs, verbose=0, batch_size=1024)
            lower, point, upper = (out[:, i * horizon : (i + 1) * horizon] for i in range(3))
            return point, np.minimum(lower, point), np.maximum(upper, point)
        point = self._mean(inputs)
        half_width = self.half_width_ * np.asarray(volatility)[:, None]
        return point, point - half_width, point + half_width
