"""Seconds per training epoch of the forecaster: 2 LSTM layers of 64 units, sequences of
60 bars, 5 features, about 2,500 training sequences, batch 32 — on the CPU, and on a GPU
when TensorFlow sees one. Run: ``python benchmarks/forecast_speed.py``."""

from __future__ import annotations

from stratopt.api.v1alpha1 import ForecastRunSpec
from stratopt.data import MarketData, synthesize_ohlcv
from stratopt.forecast import prepare
from stratopt.forecast.lstm import LstmForecaster


def main() -> None:
    spec = ForecastRunSpec.model_validate(
        {
            "data": {"source": "synthetic:"},
            "features": ["return_1", "rsi_14", "volatility_20", "volume_ratio_20"],
            "sequenceLength": 60,
            "horizon": 30,
            "model": {"units": [64, 64]},
            "training": {"epochs": 3, "batchSize": 32, "patience": 10},
        }
    )
    data = MarketData.from_frame(
        synthesize_ohlcv("synthetic:gbm?bars=3850&freq=1h&seed=7"), pip_size=1e-4, tick_size=1e-5
    )
    sequences = prepare(spec, data, list(spec.features or []))
    model = LstmForecaster(spec).fit(sequences)
    print(
        f"device {model.device_}: {sequences.train.stop} training sequences × "
        f"{sequences.inputs.shape[1]} bars × {sequences.inputs.shape[2]} features, "
        f"batch {model.batch_size_}: {model.seconds_per_epoch_:.2f} s/epoch "
        f"({model.epochs_run_} epochs)"
    )


if __name__ == "__main__":
    main()
