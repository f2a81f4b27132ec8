"""Executors that evaluate batches, and the loops that drive searches with them."""

from stratopt.runtime.features import run_feature_analysis, run_forecast
from stratopt.runtime.local import LocalExecutor
from stratopt.runtime.optimization import OptimizationOutcome, run_optimization

__all__ = [
    "LocalExecutor",
    "OptimizationOutcome",
    "run_feature_analysis",
    "run_forecast",
    "run_optimization",
]
