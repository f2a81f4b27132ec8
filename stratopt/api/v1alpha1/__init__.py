"""Version ``v1alpha1`` of the ``stratopt.io`` API group."""

from stratopt.api.v1alpha1.algorithms import (
    ALGORITHMS,
    AlgorithmSettings,
    AlgorithmSpec,
    BayesianSettings,
    EnsembleSettings,
    GridSettings,
    Nsga2Settings,
    RandomSettings,
)
from stratopt.api.v1alpha1.backtest import (
    BacktestSpec,
    CostsSpec,
    DataSpec,
    FillConvention,
    StopUnit,
    StrategySpec,
)
from stratopt.api.v1alpha1.features import (
    FeatureAnalysis,
    FeatureAnalysisSpec,
    FeatureAnalysisStatus,
)
from stratopt.api.v1alpha1.forecast import (
    ForecastRun,
    ForecastRunSpec,
    ForecastRunStatus,
)
from stratopt.api.v1alpha1.optimization import (
    Constraint,
    Diagnostics,
    ExecutionSpec,
    Objective,
    OptimizationRun,
    OptimizationRunSpec,
    OptimizationRunStatus,
    ParameterRange,
    ParameterType,
    Picks,
    Progress,
    Solution,
    WalkForwardSpec,
    WalkForwardStatus,
)
from stratopt.api.v1alpha1.status import Condition
from stratopt.api.vocabulary import Goal

#: Every resource kind of this version, in the order their CRDs are written.
RESOURCES = (OptimizationRun, FeatureAnalysis, ForecastRun)

__all__ = [
    "ALGORITHMS",
    "RESOURCES",
    "AlgorithmSettings",
    "AlgorithmSpec",
    "BacktestSpec",
    "BayesianSettings",
    "Condition",
    "Constraint",
    "CostsSpec",
    "DataSpec",
    "Diagnostics",
    "EnsembleSettings",
    "ExecutionSpec",
    "FeatureAnalysis",
    "FeatureAnalysisSpec",
    "FeatureAnalysisStatus",
    "FillConvention",
    "ForecastRun",
    "ForecastRunSpec",
    "ForecastRunStatus",
    "Goal",
    "GridSettings",
    "Nsga2Settings",
    "Objective",
    "OptimizationRun",
    "OptimizationRunSpec",
    "OptimizationRunStatus",
    "ParameterRange",
    "ParameterType",
    "Picks",
    "Progress",
    "RandomSettings",
    "Solution",
    "StopUnit",
    "StrategySpec",
    "WalkForwardSpec",
    "WalkForwardStatus",
]
