"""Run one resource's spec on this machine and return its status as the API stores it:
what a worker pod does, ``stratopt.client.run_local`` too."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pydantic import BaseModel


def execute(
    kind: str, spec: dict[str, Any], on_progress: Callable[[dict[str, Any]], None] | None = None
) -> dict[str, Any]:
    """The status document of ``spec`` (a ``kind`` resource's spec) run here."""
    from stratopt.api import parse_model
    from stratopt.api.v1alpha1 import FeatureAnalysisSpec, ForecastRunSpec, OptimizationRunSpec
    from stratopt.runtime import run_feature_analysis, run_forecast, run_optimization

    status: BaseModel
    if kind == "OptimizationRun":
        search = parse_model(OptimizationRunSpec, spec, "spec")
        status = run_optimization(search, on_batch=on_progress).status
    elif kind == "FeatureAnalysis":
        status = run_feature_analysis(parse_model(FeatureAnalysisSpec, spec, "spec"))
    else:
        status = run_forecast(parse_model(ForecastRunSpec, spec, "spec"))[0]
    document: dict[str, Any] = status.model_dump(mode="json", by_alias=True, exclude_none=True)
    return document
