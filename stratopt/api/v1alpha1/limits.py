"""How big a search is, computed from its spec alone (nothing is sampled or built), and
the hard limits on it.

The operator sizes runs and refuses oversized ones with these numbers, so a huge but
well-formed spec costs it microseconds, never the memory of the search it describes.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING
from urllib.parse import parse_qs, urlsplit

if TYPE_CHECKING:
    from stratopt.api.v1alpha1.optimization import OptimizationRunSpec, ParameterRange

#: Evaluations one run may plan: grid points, random samples, NSGA-II population ×
#: generations, Bayesian iterations, an ensemble's budget.
MAX_EVALUATIONS = 100_000
#: Individuals of one NSGA-II generation (one batch).
MAX_POPULATION = 10_000
#: Bars × evaluations of one run: about 1.4 core-hours of backtesting at 5 ns a bar.
MAX_BAR_EVALUATIONS = 10**12
#: Memory one evaluation's parameters and metrics take, held for the whole search.
BYTES_PER_EVALUATION = 2_000
#: Bars assumed for data whose length is unknown until it is loaded (files, URLs).
ASSUMED_BARS = 100_000
#: Bars of synthetic data that does not say.
SYNTHETIC_BARS = 62_000


def axis_points(parameter: ParameterRange, steps: int) -> int:
    """Values of one parameter on the grid (as ``SearchSpace.grid`` makes them)."""
    if parameter.values is not None and parameter.type.value == "categorical":
        return len(parameter.values)
    assert parameter.min is not None and parameter.max is not None
    if parameter.step is not None:
        return math.floor((parameter.max - parameter.min) / parameter.step + 1e-9) + 1
    if parameter.type.value == "int":
        return min(steps, math.floor(parameter.max) - math.ceil(parameter.min) + 1)
    return steps


def bars(source: str) -> int:
    """Bars of the data: known for synthetic data, assumed for files and URLs."""
    if not source.startswith("synthetic:"):
        return ASSUMED_BARS
    try:
        # The largest of repeated values: the loader refuses repeats, never reads a larger.
        return max(int(b) for b in parse_qs(urlsplit(source).query).get("bars", [SYNTHETIC_BARS]))
    except ValueError:
        return SYNTHETIC_BARS  # the data loader names the bad option


def results_memory(evaluations: int) -> str:
    """The memory the results of ``evaluations`` need, for messages."""
    size = evaluations * BYTES_PER_EVALUATION
    return f"about {size / 2**30:,.1f} GiB" if size >= 2**30 else f"about {size / 2**20:,.0f} MiB"


def limit_problem(spec: OptimizationRunSpec) -> str | None:
    """Why ``spec`` is over a limit, naming the field and the limit; None when within."""
    settings = spec.algorithm.settings()
    evaluations = settings.planned_evaluations(spec)
    problem = settings.limit_problem(evaluations)
    if problem is not None:
        return problem
    data_bars = bars(spec.backtest.data.source)
    bar_evaluations = evaluations * data_bars
    if bar_evaluations > MAX_BAR_EVALUATIONS:
        return (
            f"backtest.data.source: {evaluations:,} evaluations of {data_bars:,} bars each "
            f"is {bar_evaluations:.2g} bar-evaluations, over the limit of "
            f"{MAX_BAR_EVALUATIONS:.0e}; use fewer bars or fewer evaluations"
        )
    return None
