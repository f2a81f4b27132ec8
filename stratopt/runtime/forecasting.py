"""Run a ForecastRun on this machine (the operator runs the same inside a Job)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from stratopt.api.v1alpha1 import ForecastRunSpec, ForecastRunStatus
from stratopt.data import MarketData, load_market_data

if TYPE_CHECKING:
    from stratopt.forecast.lstm import LstmForecaster


def run_forecast(
    spec: ForecastRunSpec, data: MarketData | None = None
) -> tuple[ForecastRunStatus, LstmForecaster, MarketData]:
    """Load the data (unless given), train, evaluate and forecast."""
    from stratopt.forecast import forecast

    data = data or load_market_data(spec.data, "spec.data")
    status, model = forecast(spec, data)
    return status, model, data
