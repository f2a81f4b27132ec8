"""Run a FeatureAnalysis on this machine (the operator runs the same inside a Job)."""

from __future__ import annotations

from stratopt.api.v1alpha1 import FeatureAnalysisSpec, FeatureAnalysisStatus
from stratopt.data import MarketData, load_market_data
from stratopt.features import analyze_features


def run_feature_analysis(
    spec: FeatureAnalysisSpec, data: MarketData | None = None
) -> FeatureAnalysisStatus:
    """Load the data (unless given) and rank the features."""
    return analyze_features(spec, data or load_market_data(spec.data, "spec.data"))
