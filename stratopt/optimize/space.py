"""Search spaces: the searched parameters in the coordinates algorithms work in.

Algorithms see a box of floats: ``float`` parameters as themselves (or their logarithm
with ``log``), ``int`` parameters rounded on decoding, categorical parameters as the
index of a choice. :meth:`SearchSpace.decode` turns a point back into parameter values.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import numpy as np

from stratopt.api import SpecError
from stratopt.api.v1alpha1 import ParameterRange, ParameterType
from stratopt.backtest.strategies import RISK_PARAMETERS, Strategy

Params = dict[str, float]


class SearchSpace:
    """The box the algorithms search, and the mapping to parameter values."""

    def __init__(self, ranges: Sequence[ParameterRange]) -> None:
        self.ranges = list(ranges)
        self.names = [r.name for r in self.ranges]
        lower, upper = [], []
        for r in self.ranges:
            if r.type is ParameterType.CATEGORICAL:
                assert r.values is not None
                lower.append(0.0)
                upper.append(float(len(r.values) - 1))
            else:
                assert r.min is not None and r.max is not None
                lower.append(float(np.log(r.min)) if r.log else r.min)
                upper.append(float(np.log(r.max)) if r.log else r.max)
        self.lower = np.array(lower)
        self.upper = np.array(upper)
        self.integer_mask = np.array(
            [r.type is not ParameterType.FLOAT and not r.log for r in self.ranges]
        )

    @property
    def dimensions(self) -> int:
        return len(self.ranges)

    def decode(self, point: Sequence[float] | np.ndarray) -> Params:
        """Parameter values of a point in the box (rounded, snapped and clipped)."""
        values: Params = {}
        for r, x in zip(self.ranges, point, strict=True):
            if r.type is ParameterType.CATEGORICAL:
                assert r.values is not None
                values[r.name] = float(r.values[int(np.clip(np.rint(x), 0, len(r.values) - 1))])
                continue
            assert r.min is not None and r.max is not None
            value = float(np.exp(x)) if r.log else float(x)
            if r.step is not None:
                value = r.min + np.rint((value - r.min) / r.step) * r.step
            if r.type is ParameterType.INT:
                value = float(np.rint(value))
            values[r.name] = float(np.clip(value, r.min, r.max))
        return values

    def encode(self, params: Params) -> np.ndarray:
        """The point in the box of given parameter values."""
        point = []
        for r in self.ranges:
            value = params[r.name]
            if r.type is ParameterType.CATEGORICAL:
                assert r.values is not None
                point.append(float(r.values.index(value)))
            else:
                point.append(float(np.log(value)) if r.log else value)
        return np.array(point)

    def from_unit(self, unit: np.ndarray) -> list[Params]:
        """Decode points of the unit hypercube (rows) into parameter sets."""
        span = self.upper - self.lower
        # Integers and choices get equal-width cells: stretch by one unit before flooring.
        widened = np.where(self.integer_mask, span + 1, span)
        box = self.lower + unit * widened
        box = np.where(self.integer_mask, np.minimum(np.floor(box), self.upper), box)
        return [self.decode(row) for row in box]

    def grid(self, steps: int) -> list[Params]:
        """Every combination: each parameter's own step, its choices, or ``steps`` points."""
        axes = []
        for r in self.ranges:
            if r.type is ParameterType.CATEGORICAL:
                assert r.values is not None
                axes.append([float(v) for v in r.values])
                continue
            assert r.min is not None and r.max is not None
            if r.step is not None:
                count = int(np.floor((r.max - r.min) / r.step + 1e-9)) + 1
                axis = r.min + r.step * np.arange(count)
            elif r.log:
                axis = np.geomspace(r.min, r.max, steps)
            else:
                axis = np.linspace(r.min, r.max, steps)
            if r.type is ParameterType.INT:
                axis = np.unique(np.rint(axis))
            axes.append([float(round(v, 12)) for v in axis])
        return [dict(zip(self.names, combo, strict=True)) for combo in itertools.product(*axes)]


def check_space_against_strategy(
    ranges: Sequence[ParameterRange], strategy: Strategy, field: str = "spec.parameters"
) -> None:
    """Every searched name must be a parameter of the strategy, within its bounds.

    Raises:
        SpecError: naming each offending ``spec.parameters[i]``.
    """
    declared = {p.name: p for p in (*strategy.parameters, *RISK_PARAMETERS)}
    problems = []
    for i, r in enumerate(ranges):
        parameter = declared.get(r.name)
        if parameter is None:
            problems.append(
                (
                    f"{field}[{i}].name",
                    f"'{r.name}' is not a parameter of strategy "
                    f"'{strategy.name}'; known: {sorted(declared)}",
                )
            )
            continue
        low = r.min if r.values is None else min(r.values)
        high = r.max if r.values is None else max(r.values)
        assert low is not None and high is not None
        if low < parameter.low or high > parameter.high:
            problems.append(
                (
                    f"{field}[{i}]",
                    f"'{r.name}' must stay within "
                    f"[{parameter.low:g}, {parameter.high:g}]; got [{low:g}, {high:g}]",
                )
            )
        if parameter.kind == "int" and r.type is ParameterType.FLOAT:
            problems.append(
                (f"{field}[{i}].type", f"'{r.name}' is an integer parameter; use type: int")
            )
    if problems:
        raise SpecError(problems)
