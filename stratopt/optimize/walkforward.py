"""Walk-forward analysis: fold windows, the solution each fold carries out of sample,
the stitched out-of-sample result, and parameter stability. Pure functions."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from stratopt.api.v1alpha1 import (
    OptimizationRunSpec,
    OptimizationRunStatus,
    Solution,
    WalkForwardSpec,
)
from stratopt.api.v1alpha1.optimization import ParameterSpread
from stratopt.api.vocabulary import Goal
from stratopt.errors import InputError

#: A last test window shorter than this share of a full one is too short to mean
#: anything: it is dropped, with a warning naming the dates left untested.
SHORTEST_LAST_TEST = 0.2


@dataclass(frozen=True)
class Fold:
    """Bar index ranges (start inclusive, end exclusive) of one fold; ``partial`` when the
    data ends before its test window does."""

    number: int
    train: tuple[int, int]
    test: tuple[int, int]
    partial: bool = False


def _offset(window: str) -> pd.DateOffset:
    match = re.fullmatch(r"([0-9]+)(y|mo|w|d|h)", window)
    assert match, window
    amount = int(match[1])
    unit = match[2]
    if unit == "y":
        return pd.DateOffset(years=amount)
    if unit == "mo":
        return pd.DateOffset(months=amount)
    if unit == "w":
        return pd.DateOffset(weeks=amount)
    if unit == "d":
        return pd.DateOffset(days=amount)
    return pd.DateOffset(hours=amount)


def _advance(index: pd.DatetimeIndex, start: int, window: str | int) -> int:
    """The position ``window`` after ``start`` (bars, or a calendar duration)."""
    if isinstance(window, int):
        return start + window
    return int(index.searchsorted(index[start] + _offset(window), side="left"))


def _ends_past_the_data(index: pd.DatetimeIndex, start: int, window: str | int) -> bool:
    """Whether the window from ``start`` ends more than a bar after the data's last bar."""
    if isinstance(window, int):
        return start + window > len(index)
    spacing = index[-1] - index[-2] if len(index) > 1 else pd.Timedelta(0)
    return bool(index[start] + _offset(window) > index[-1] + spacing)


def _retreat(index: pd.DatetimeIndex, end: int, window: str | int) -> int:
    """The position ``window`` before ``end``, not before the first bar."""
    if isinstance(window, int):
        return max(end - window, 0)
    return int(index.searchsorted(index[end] - _offset(window), side="left"))


def fold_windows(index: pd.DatetimeIndex, spec: WalkForwardSpec) -> list[Fold]:
    """Every fold that fits the data, tested to its last bar: the data's most recent
    bars are the ones a trader cares about most. The last test window may be shorter
    than the others (``partial``); one under :data:`SHORTEST_LAST_TEST` of a full window
    is dropped (:func:`untested_tail` tells which bars that leaves).

    Test windows are stepped forward and each training window is measured back from its
    test window's first bar, so with the default step the test windows tile the data
    exactly, never overlapping.

    Raises:
        InputError: when not even one fold fits, naming ``spec.walkForward``.
    """
    bars = len(index)
    step = spec.step if spec.step is not None else spec.test
    folds: list[Fold] = []
    test_start = _advance(index, 0, spec.train)
    full_test: int | None = None
    while test_start < bars:
        test_end = min(_advance(index, test_start, spec.test), bars)
        length = test_end - test_start
        full_test = full_test or length
        partial = _ends_past_the_data(index, test_start, spec.test)
        if partial and length < max(2, SHORTEST_LAST_TEST * full_test):
            break
        train_start = 0 if spec.anchored else _retreat(index, test_start, spec.train)
        folds.append(
            Fold(len(folds) + 1, (train_start, test_start), (test_start, test_end), partial)
        )
        if test_end == bars:
            break  # the data is tested to its end: a later window would test less of it
        test_start = _advance(index, test_start, step)
    if not folds:
        raise InputError(
            "spec.walkForward",
            f"no fold fits in {bars} bars with train "
            f"{spec.train!r} and test {spec.test!r}; use shorter windows or more data",
        )
    if spec.folds is not None:
        folds = [
            Fold(i + 1, f.train, f.test, f.partial) for i, f in enumerate(folds[-spec.folds :])
        ]
    return folds


def checked_folds(spec: OptimizationRunSpec, index: pd.DatetimeIndex) -> list[Fold]:
    """The folds of ``spec``'s walk-forward on ``index``, within the evaluation limit:
    each fold runs the whole search again on its training window.

    Raises:
        InputError: no fold fits, or the folds' searches are over the limit.
    """
    from stratopt.api.v1alpha1.limits import MAX_EVALUATIONS

    assert spec.walk_forward is not None
    folds = fold_windows(index, spec.walk_forward)
    each = spec.algorithm.settings().planned_evaluations(spec)
    total = each * (len(folds) + 1)
    if total > MAX_EVALUATIONS:
        raise InputError(
            "spec.walkForward",
            f"{len(folds)} folds each search again: {each:,} evaluations × {len(folds) + 1} "
            f"searches is {total:,}, over the limit of {MAX_EVALUATIONS:,}; keep fewer folds "
            "(walkForward.folds), use longer windows, or search with fewer evaluations",
        )
    return folds


def untested_tail(index: pd.DatetimeIndex, folds: Sequence[Fold]) -> str | None:
    """A warning naming the last bars no test window covers, if any."""
    end = max(f.test[1] for f in folds)
    if end >= len(index):
        return None
    return (
        f"walk-forward leaves {len(index) - end} bars untested, {index[end]:%Y-%m-%d %H:%M} "
        f"to {index[-1]:%Y-%m-%d %H:%M}: too short for a test window; use a shorter test "
        "or step to test the most recent data"
    )


def select_solution(spec: OptimizationRunSpec, status: OptimizationRunStatus) -> Solution:
    """The solution of a fold's search that trades out of sample."""
    assert spec.walk_forward is not None and status.best is not None
    select = spec.walk_forward.select
    if select == "balanced":
        return status.best
    objective = (
        spec.objectives[0]
        if select == "best"
        else next(o for o in spec.objectives if o.name == select)
    )
    front = status.pareto_front
    if objective.direction is Goal.MAXIMIZE:
        return max(front, key=lambda s: (s.metrics[objective.name], -(s.rank or 0)))
    return min(front, key=lambda s: (s.metrics[objective.name], s.rank or 0))


def stitch_returns(curves: Sequence[np.ndarray], capital: float) -> np.ndarray:
    """Bar returns of consecutive test-window equity curves, each starting from ``capital``."""
    parts = []
    for equity in curves:
        previous = np.concatenate(([capital], equity[:-1]))
        parts.append(equity / previous - 1.0)
    return np.concatenate(parts) if parts else np.zeros(0)


def parameter_stability(
    spec: OptimizationRunSpec, chosen: Sequence[dict[str, float]]
) -> dict[str, ParameterSpread]:
    """Mean, spread and range of each searched parameter across folds."""
    spreads = {}
    for r in spec.parameters:
        values = np.array([c[r.name] for c in chosen])
        low = r.min if r.values is None else min(r.values)
        high = r.max if r.values is None else max(r.values)
        assert low is not None and high is not None
        width = high - low
        std = float(values.std())
        spreads[r.name] = ParameterSpread(
            mean=float(values.mean()),
            std=std,
            min=float(values.min()),
            max=float(values.max()),
            relative_spread=std / width if width > 0 else 0.0,
        )
    return spreads
