"""Executors that evaluate batches, and the loops that drive searches with them.

The names load on first use, so that a process needing only ``stratopt.runtime.protocol``
(a worker pod, the operator) does not import every search and analysis with it.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from stratopt.runtime.feature_analysis import run_feature_analysis as run_feature_analysis
    from stratopt.runtime.forecasting import run_forecast as run_forecast
    from stratopt.runtime.local import LocalExecutor as LocalExecutor
    from stratopt.runtime.optimization import OptimizationOutcome as OptimizationOutcome
    from stratopt.runtime.optimization import run_optimization as run_optimization

_MODULES = {
    "LocalExecutor": "stratopt.runtime.local",
    "OptimizationOutcome": "stratopt.runtime.optimization",
    "run_feature_analysis": "stratopt.runtime.feature_analysis",
    "run_forecast": "stratopt.runtime.forecasting",
    "run_optimization": "stratopt.runtime.optimization",
}
__all__ = sorted(_MODULES)


def __getattr__(name: str) -> Any:
    if name not in _MODULES:
        raise AttributeError(f"module 'stratopt.runtime' has no attribute {name!r}")
    return getattr(importlib.import_module(_MODULES[name]), name)
