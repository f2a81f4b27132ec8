"""Objective and constraint values of evaluations, in the form algorithms minimize."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from stratopt.api.v1alpha1 import Goal, OptimizationRunSpec
from stratopt.backtest.metrics import INFEASIBLE

if TYPE_CHECKING:
    from stratopt.optimize.driver import Evaluation


def minimized(spec: OptimizationRunSpec, evaluations: Sequence[Evaluation]) -> np.ndarray:
    """Objective rows to minimize (maximized objectives negated)."""
    signs = np.array([1.0 if o.direction is Goal.MINIMIZE else -1.0 for o in spec.objectives])
    values = np.array([[e.metrics[o.name] for o in spec.objectives] for e in evaluations])
    return np.asarray(values.reshape(len(evaluations), len(signs)) * signs)


def constraint_columns(spec: OptimizationRunSpec) -> int:
    """Columns of :func:`violations`."""
    return len(spec.constraints) + len(spec.parameter_relations) + 1


def violations(spec: OptimizationRunSpec, evaluations: Sequence[Evaluation]) -> np.ndarray:
    """How far each evaluation is outside each constraint (0 = satisfied), one column
    each: the metric constraints, the parameter constraints, and a last column that is 1
    for a parameter combination the strategy refused (an infeasible evaluation)."""
    columns = constraint_columns(spec)
    values = [
        [
            *(c.violation(e.metrics) for c in spec.constraints),
            *(r.violation(e.parameters) for r in spec.parameter_relations),
            e.metrics.get(INFEASIBLE, 0.0),
        ]
        for e in evaluations
    ]
    return np.array(values, dtype=float).reshape(len(evaluations), columns)


def feasible_mask(spec: OptimizationRunSpec, evaluations: Sequence[Evaluation]) -> np.ndarray:
    """Which evaluations satisfy every constraint."""
    return np.asarray(~(violations(spec, evaluations) > 0).any(axis=1))
