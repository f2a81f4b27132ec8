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


def grid_points(spec: OptimizationRunSpec) -> int:
    settings = spec.algorithm.grid
    steps = settings.steps if settings is not None else 10
    return math.prod(axis_points(p, steps) for p in spec.parameters)


def planned_evaluations(spec: OptimizationRunSpec) -> int:
    """Evaluations the search will make at most."""
    algorithm = spec.algorithm
    if algorithm.nsga2 is not None:
        return algorithm.nsga2.population_size * algorithm.nsga2.generations
    if algorithm.bayesian is not None:
        return algorithm.bayesian.iterations
    if algorithm.grid is not None:
        return grid_points(spec)
    if algorithm.random is not None:
        return algorithm.random.samples
    assert algorithm.ensemble is not None
    return algorithm.ensemble.budget


def first_batch(spec: OptimizationRunSpec) -> int:
    """Evaluations of the search's first batch (an estimate for ensembles: their
    largest member's)."""
    algorithm = spec.algorithm
    if algorithm.nsga2 is not None:
        return algorithm.nsga2.population_size
    if algorithm.bayesian is not None:
        return min(algorithm.bayesian.batch_size, algorithm.bayesian.iterations)
    if algorithm.ensemble is not None:
        settings = algorithm.ensemble
        total = sum(m.weight for m in settings.members)
        return max(int(settings.budget * m.weight / total) for m in settings.members)
    return planned_evaluations(spec)


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
    algorithm = spec.algorithm
    evaluations = planned_evaluations(spec)
    if algorithm.grid is not None and evaluations > MAX_EVALUATIONS:
        return (
            f"algorithm.grid.steps: the grid has {evaluations:,} points "
            f"({results_memory(evaluations)} of results), over the limit of "
            f"{MAX_EVALUATIONS:,}; lower steps, give parameters a coarser step, or search "
            "with random or nsga2"
        )
    if algorithm.nsga2 is not None and evaluations > MAX_EVALUATIONS:
        return (
            f"algorithm.nsga2: populationSize × generations is {evaluations:,} "
            f"({results_memory(evaluations)} of results), over the limit of "
            f"{MAX_EVALUATIONS:,} evaluations; lower either"
        )
    data_bars = bars(spec.backtest.data.source)
    bar_evaluations = evaluations * data_bars
    if bar_evaluations > MAX_BAR_EVALUATIONS:
        return (
            f"backtest.data.source: {evaluations:,} evaluations of {data_bars:,} bars each "
            f"is {bar_evaluations:.2g} bar-evaluations, over the limit of "
            f"{MAX_BAR_EVALUATIONS:.0e}; use fewer bars or fewer evaluations"
        )
    return None
