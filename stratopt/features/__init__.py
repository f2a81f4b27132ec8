"""Feature engineering from OHLCV and out-of-sample importance ranking (scikit-learn)."""

from stratopt.features.catalogue import FIXED, PATTERNS, compute_feature, feature_matrix
from stratopt.features.ranking import Dataset, FeatureRanker, analyze_features, build_dataset

__all__ = [
    "FIXED",
    "PATTERNS",
    "Dataset",
    "FeatureRanker",
    "analyze_features",
    "build_dataset",
    "compute_feature",
    "feature_matrix",
]
