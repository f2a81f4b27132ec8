"""Run a FeatureAnalysis on this machine (the operator runs the same inside a Job)."""

from __future__ import annotations

from stratopt.api.v1alpha1 import FeatureAnalysisSpec, FeatureAnalysisStatus
from stratopt.data import load_market_data
from stratopt.features import analyze_features


def run_feature_analysis(spec: FeatureAnalysisSpec) -> FeatureAnalysisStatus:
    """Load the data and rank the features."""
    return analyze_features(spec, load_market_data(spec.data, "spec.data"))
