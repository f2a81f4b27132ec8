"""Pareto-front tools: non-dominated sets, trade-off ranking, picks and hypervolume.

All functions take objectives as rows to *minimize* (maximized objectives negated).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from pymoo.indicators.hv import HV
from pymoo.util.nds.non_dominated_sorting import NonDominatedSorting

#: Significant digits to which objective values must agree for two solutions to be one.
OBJECTIVE_DIGITS = 6


def objective_key(values: Sequence[float]) -> tuple[str, ...]:
    """Equal for objective vectors that agree to ``OBJECTIVE_DIGITS`` significant digits."""
    return tuple(f"{value:.{OBJECTIVE_DIGITS}g}" for value in values)


def non_dominated(objectives: np.ndarray) -> np.ndarray:
    """Indices of the rows no other row dominates."""
    if len(objectives) == 0:
        return np.array([], dtype=int)
    front = NonDominatedSorting().do(objectives, only_non_dominated_front=True)
    return np.sort(np.asarray(front, dtype=int))


def normalize(objectives: np.ndarray, ideal: np.ndarray, nadir: np.ndarray) -> np.ndarray:
    """Scale each objective so ``ideal`` maps to 0 and ``nadir`` to 1."""
    span = np.where(nadir - ideal > 0, nadir - ideal, 1.0)
    return np.asarray((objectives - ideal) / span)


def trade_off_order(objectives: np.ndarray, weights: Sequence[float] | None = None) -> np.ndarray:
    """Order of front members by their (weighted) distance to the ideal point in
    normalized space.

    The first is the best trade-off (rank 1); ties keep their input order.
    """
    if len(objectives) == 0:
        return np.array([], dtype=int)
    scaled = normalize(objectives, objectives.min(axis=0), objectives.max(axis=0))
    if weights is not None:
        scaled = scaled * np.asarray(weights, dtype=float)
    return np.argsort(np.linalg.norm(scaled, axis=1), kind="stable")


def hypervolume(objectives: np.ndarray, ideal: np.ndarray, nadir: np.ndarray) -> float:
    """Hypervolume of ``objectives`` normalized by (ideal, nadir), reference point 1.1."""
    if len(objectives) == 0:
        return 0.0
    scaled = normalize(objectives, ideal, nadir)
    reference = np.full(objectives.shape[1], 1.1)
    inside = scaled[(scaled < reference).all(axis=1)]
    if len(inside) == 0:
        return 0.0
    return float(HV(ref_point=reference)(inside))


class RunningFront:
    """The non-dominated rows of everything added so far, and its hypervolume normalized
    by the ranges of the first batch (all of its rows, fixed so that values compare from
    batch to batch). Each batch merges into the front alone, so bookkeeping costs grow
    with the front, not with the run's length (a dominated row never counts again: it
    adds nothing to a hypervolume or a best)."""

    def __init__(self, objectives: int) -> None:
        self.points = np.empty((0, objectives))
        self.reference: tuple[np.ndarray, np.ndarray] | None = None

    def add(self, rows: np.ndarray, feasible: np.ndarray) -> None:
        """Merge a batch's ``rows`` (to minimize), of which the ``feasible`` ones count."""
        if self.reference is None and len(rows):
            self.reference = (rows.min(axis=0), rows.max(axis=0))
        kept = rows[feasible]
        if len(kept):
            merged = np.vstack([self.points, kept])
            self.points = merged[non_dominated(merged)]

    def hypervolume(self) -> float:
        assert self.reference is not None, "no batch added yet"
        return hypervolume(self.points, *self.reference)
