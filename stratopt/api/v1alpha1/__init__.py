"""Version ``v1alpha1`` of the ``stratopt.io`` API group."""

from stratopt.api.v1alpha1.backtest import (
    BacktestSpec,
    CostsSpec,
    DataSpec,
    FillConvention,
    StopUnit,
    StrategySpec,
)

__all__ = [
    "BacktestSpec",
    "CostsSpec",
    "DataSpec",
    "FillConvention",
    "StopUnit",
    "StrategySpec",
]
