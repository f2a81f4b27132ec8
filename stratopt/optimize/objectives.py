"""Objective and constraint values of evaluations, in the form algorithms minimize."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from stratopt.api.v1alpha1 import Goal, OptimizationRunSpec

if TYPE_CHECKING:
    from stratopt.optimize.driver import Evaluation


def minimized(spec: OptimizationRunSpec, evaluations: Sequence[Evaluation]) -> np.ndarray:
    """Objective rows to minimize (maximized objectives negated)."""
    signs = np.array([1.0 if o.direction is Goal.MINIMIZE else -1.0 for o in spec.objectives])
    values = np.array([[e.metrics[o.name] for o in spec.objectives] for e in evaluations])
    return np.asarray(values.reshape(len(evaluations), len(signs)) * signs)


def violations(spec: OptimizationRunSpec, evaluations: Sequence[Evaluation]) -> np.ndarray:
    """How far each evaluation is outside each constraint (0 = satisfied), one column each."""
    values = [[c.violation(e.metrics) for c in spec.constraints] for e in evaluations]
    return np.array(values, dtype=float).reshape(len(evaluations), len(spec.constraints))


def feasible_mask(spec: OptimizationRunSpec, evaluations: Sequence[Evaluation]) -> np.ndarray:
    """Which evaluations satisfy every constraint."""
    return np.asarray(~(violations(spec, evaluations) > 0).any(axis=1))
