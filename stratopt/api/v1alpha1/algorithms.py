"""The search algorithms' settings, and :data:`ALGORITHMS`, their catalogue.

Each algorithm is one settings class here, which names it and sizes its search from the
spec alone, and one driver module, ``stratopt.optimize.algorithms.<name>``. The
catalogue generates the rest: the values of ``spec.algorithm.name``, the settings blocks
beside it, their CEL rules and defaults, and the algorithms an ensemble may combine.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from pydantic import Field, create_model, model_validator

from stratopt.api._base import ApiModel, cel, cel_rules
from stratopt.api.v1alpha1.limits import (
    MAX_EVALUATIONS,
    MAX_POPULATION,
    axis_points,
    results_memory,
)

if TYPE_CHECKING:
    from stratopt.api.v1alpha1.optimization import OptimizationRunSpec


class AlgorithmSettings(ApiModel):
    """What every algorithm's settings declare: its name and the size of its search."""

    #: ``spec.algorithm.name``, the key of the settings block, and the driver's module.
    name: ClassVar[str]
    #: Whether it optimizes exactly one objective.
    single_objective: ClassVar[bool] = False

    def planned_evaluations(self, spec: OptimizationRunSpec) -> int:
        """Evaluations the search will make at most."""
        raise NotImplementedError

    def first_batch(self, spec: OptimizationRunSpec) -> int:
        """Evaluations of the search's first batch."""
        return self.planned_evaluations(spec)

    def limit_problem(self, evaluations: int) -> str | None:
        """Why ``evaluations`` planned are too many for these settings, naming the field
        to change; None when they are not. Fields with their own bounds need none."""
        return None


class EarlyStop(ApiModel):
    """Stop NSGA-II when the front's hypervolume stops improving."""

    patience: int = Field(
        default=10, ge=1, description="Generations without improvement before stopping."
    )
    tolerance: float = Field(
        default=1e-4,
        ge=0,
        description="Relative hypervolume gain below which a generation counts as no improvement.",
    )


class Nsga2Settings(AlgorithmSettings):
    """NSGA-II (pymoo): a generational genetic algorithm for several objectives."""

    name: ClassVar[str] = "nsga2"

    population_size: int = Field(
        default=100,
        ge=4,
        le=MAX_POPULATION,
        description="Individuals per generation (= evaluations per batch).",
    )
    generations: int = Field(default=50, ge=1, le=100_000, description="Generations to run.")
    crossover_probability: float = Field(
        default=0.9, ge=0, le=1, description="Probability of simulated binary crossover."
    )
    crossover_eta: float = Field(
        default=15.0,
        gt=0,
        description="SBX distribution index; larger keeps children near their parents.",
    )
    mutation_eta: float = Field(
        default=20.0, gt=0, description="Polynomial mutation distribution index."
    )
    mutation_probability: float | None = Field(
        default=None,
        gt=0,
        le=1,
        description="Per-variable mutation probability; default 1 / number of parameters.",
    )
    early_stop: EarlyStop | None = Field(
        default=None, description="Optional early stop on hypervolume stagnation."
    )

    def planned_evaluations(self, spec: OptimizationRunSpec) -> int:
        return self.population_size * self.generations

    def first_batch(self, spec: OptimizationRunSpec) -> int:
        return self.population_size

    def limit_problem(self, evaluations: int) -> str | None:
        if evaluations <= MAX_EVALUATIONS:
            return None
        return (
            f"algorithm.nsga2: populationSize × generations is {evaluations:,} "
            f"({results_memory(evaluations)} of results), over the limit of "
            f"{MAX_EVALUATIONS:,} evaluations; lower either"
        )


class BayesianSettings(AlgorithmSettings):
    """Bayesian optimization (scikit-optimize, Gaussian process) of one objective."""

    name: ClassVar[str] = "bayesian"
    single_objective: ClassVar[bool] = True

    model_config = cel_rules(
        cel(
            "!has(self.initialPoints) || self.initialPoints <= "
            "(has(self.iterations) ? self.iterations : 50)",
            "initialPoints must not exceed iterations",
            ".initialPoints",
        )
    )

    iterations: int = Field(default=50, ge=1, le=10_000, description="Evaluations in total.")
    initial_points: int = Field(
        default=10,
        ge=1,
        description="Space-filling evaluations before the model guides the search.",
    )
    acquisition: Literal["gp_hedge", "EI", "PI", "LCB"] = Field(
        default="gp_hedge", description="Acquisition function."
    )
    batch_size: int = Field(
        default=1,
        ge=1,
        le=256,
        description="Points asked together "
        "(constant liar when above 1); they evaluate in parallel.",
    )

    @model_validator(mode="after")
    def _initial_within_budget(self) -> BayesianSettings:
        if self.initial_points > self.iterations:
            raise ValueError(
                f"bayesian.initialPoints ({self.initial_points}) must not exceed "
                f"bayesian.iterations ({self.iterations})"
            )
        return self

    def planned_evaluations(self, spec: OptimizationRunSpec) -> int:
        return self.iterations

    def first_batch(self, spec: OptimizationRunSpec) -> int:
        return min(self.batch_size, self.iterations)


class GridSettings(AlgorithmSettings):
    """Exhaustive search over a grid."""

    name: ClassVar[str] = "grid"

    steps: int = Field(
        default=10,
        ge=2,
        le=10_000,
        description="Points per parameter "
        "(min to max inclusive) for parameters without their own step.",
    )

    def planned_evaluations(self, spec: OptimizationRunSpec) -> int:
        return math.prod(axis_points(p, self.steps) for p in spec.parameters)

    def limit_problem(self, evaluations: int) -> str | None:
        if evaluations <= MAX_EVALUATIONS:
            return None
        return (
            f"algorithm.grid.steps: the grid has {evaluations:,} points "
            f"({results_memory(evaluations)} of results), over the limit of "
            f"{MAX_EVALUATIONS:,}; lower steps, give parameters a coarser step, or search "
            "with random or nsga2"
        )


class RandomSettings(AlgorithmSettings):
    """Random or quasi-random sampling."""

    name: ClassVar[str] = "random"

    samples: int = Field(default=100, ge=1, le=MAX_EVALUATIONS, description="Evaluations.")
    sampler: Literal["random", "sobol", "lhs"] = Field(
        default="random",
        description="'random' (uniform), 'sobol' (scrambled Sobol "
        "sequence) or 'lhs' (Latin hypercube).",
    )

    def planned_evaluations(self, spec: OptimizationRunSpec) -> int:
        return self.samples


#: The algorithms an ensemble combines; each of them runs on its own too.
MEMBER_ALGORITHMS: tuple[type[AlgorithmSettings], ...] = (
    Nsga2Settings,
    BayesianSettings,
    GridSettings,
    RandomSettings,
)
_MEMBER_NAMES = tuple(a.name for a in MEMBER_ALGORITHMS)

if TYPE_CHECKING:
    MemberName = str
else:
    MemberName = Literal[_MEMBER_NAMES]


class EnsembleMember(ApiModel):
    """One algorithm of an ensemble and its share of the budget."""

    name: MemberName = Field(description=f"Algorithm: {', '.join(_MEMBER_NAMES)}.")
    weight: float = Field(default=1.0, gt=0, description="Relative share of the budget.")


class EnsembleSettings(AlgorithmSettings):
    """Several algorithms sharing an evaluation budget; their results form one front."""

    name: ClassVar[str] = "ensemble"

    budget: int = Field(
        default=1000, ge=2, le=MAX_EVALUATIONS, description="Evaluations across all members."
    )
    members: list[EnsembleMember] = Field(
        default_factory=lambda: [
            EnsembleMember(name="random", weight=1.0),
            EnsembleMember(name="nsga2", weight=3.0),
        ],
        min_length=1,
        description="Members; each gets budget × weight / total weight.",
    )

    def planned_evaluations(self, spec: OptimizationRunSpec) -> int:
        return self.budget

    def first_batch(self, spec: OptimizationRunSpec) -> int:
        """An estimate: the largest member's share."""
        total = sum(m.weight for m in self.members)
        return max(int(self.budget * m.weight / total) for m in self.members)


#: Every algorithm, in the order the API lists them.
ALGORITHMS: tuple[type[AlgorithmSettings], ...] = (*MEMBER_ALGORITHMS, EnsembleSettings)
ALGORITHM_NAMES = tuple(a.name for a in ALGORITHMS)
_SETTINGS = {a.name: a for a in ALGORITHMS}

if TYPE_CHECKING:
    AlgorithmName = str
else:
    AlgorithmName = Literal[ALGORITHM_NAMES]


class _AlgorithmChoice(ApiModel):
    """The search algorithm: its name and, optionally, the settings block of that name."""

    model_config = cel_rules(
        *(
            cel(
                f"!has(self.{other}) || self.name == '{other}'",
                f"algorithm.{other} is set but algorithm.name is not '{other}'",
                f".{other}",
            )
            for other in ALGORITHM_NAMES
        )
    )

    name: AlgorithmName = Field(description=f"{', '.join(ALGORITHM_NAMES)}.")

    @model_validator(mode="after")
    def _settings_match_name(self) -> _AlgorithmChoice:
        for other in ALGORITHM_NAMES:
            if other != self.name and getattr(self, other) is not None:
                raise ValueError(
                    f"algorithm.{other} is set but algorithm.name is "
                    f"'{self.name}'; remove it or change the name"
                )
        if getattr(self, self.name) is None:
            setattr(self, self.name, _SETTINGS[self.name]())
        return self

    def settings(self) -> AlgorithmSettings:
        """The settings block of the chosen algorithm (defaults filled in)."""
        found: AlgorithmSettings = getattr(self, self.name)
        return found


def _algorithm_spec() -> Any:
    blocks: dict[str, Any] = {
        a.name: (a | None, Field(default=None, description=f"Settings of {a.name}."))
        for a in ALGORITHMS
    }
    return create_model("AlgorithmSpec", __base__=_AlgorithmChoice, __module__=__name__, **blocks)


if TYPE_CHECKING:
    AlgorithmSpec = _AlgorithmChoice
else:
    AlgorithmSpec = _algorithm_spec()
    AlgorithmSpec.__doc__ = _AlgorithmChoice.__doc__
