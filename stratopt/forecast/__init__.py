"""LSTM price forecasts with prediction intervals; TensorFlow is imported only here."""

from stratopt.forecast.dataset import MIN_SAMPLES, SequenceData, prepare
from stratopt.forecast.run import forecast, input_features

__all__ = ["MIN_SAMPLES", "SequenceData", "forecast", "input_features", "prepare"]
