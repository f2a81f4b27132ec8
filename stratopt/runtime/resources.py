"""Run one resource's spec on this machine and return its status as the API stores it:
what a worker pod does, ``stratopt.client.run_local`` too."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel

if TYPE_CHECKING:
    from stratopt.optimize.results import ProgressCallback


def _optimization(spec: Any, on_progress: ProgressCallback | None) -> BaseModel:
    from stratopt.runtime import run_optimization

    return run_optimization(spec, on_batch=on_progress).status


def _feature_analysis(spec: Any, on_progress: ProgressCallback | None) -> BaseModel:
    from stratopt.runtime import run_feature_analysis

    return run_feature_analysis(spec)


def _forecast(spec: Any, on_progress: ProgressCallback | None) -> BaseModel:
    from stratopt.runtime import run_forecast

    return run_forecast(spec)[0]


#: How each kind runs: its parsed spec (and a progress callback) to its status.
RUNNERS: dict[str, Callable[[Any, ProgressCallback | None], BaseModel]] = {
    "OptimizationRun": _optimization,
    "FeatureAnalysis": _feature_analysis,
    "ForecastRun": _forecast,
}


def run_resource(
    kind: str, spec: dict[str, Any], on_progress: ProgressCallback | None = None
) -> dict[str, Any]:
    """The status document of ``spec`` (a ``kind`` resource's spec) run here."""
    from stratopt.api import parse_model
    from stratopt.api.kinds import KINDS

    status = RUNNERS[kind](parse_model(KINDS[kind].spec, spec, "spec"), on_progress)
    document: dict[str, Any] = status.model_dump(mode="json", by_alias=True, exclude_none=True)
    return document
