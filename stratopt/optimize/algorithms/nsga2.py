"""NSGA-II composed from pymoo's parts, driven through pymoo's own ask/tell interface."""

from __future__ import annotations

from typing import Any

import numpy as np
from pymoo.algorithms.moo.nsga2 import NSGA2
from pymoo.core.evaluator import Evaluator
from pymoo.core.population import Population
from pymoo.core.problem import Problem
from pymoo.core.repair import Repair
from pymoo.operators.crossover.sbx import SBX
from pymoo.operators.mutation.pm import PM
from pymoo.operators.survival.rank_and_crowding import RankAndCrowding
from pymoo.problems.static import StaticProblem

from stratopt.api.v1alpha1 import Nsga2Settings
from stratopt.optimize.driver import Driver, Evaluation
from stratopt.optimize.objectives import constraint_columns
from stratopt.optimize.pareto import RunningFront, objective_key
from stratopt.optimize.space import Params, SearchSpace


class _RoundIntegers(Repair):  # type: ignore[misc]
    """Integer and categorical coordinates are rounded onto their range, so duplicates
    are real duplicates."""

    def __init__(self, space: SearchSpace) -> None:
        super().__init__()
        self.mask = space.integer_mask
        self.lower = space.lower[self.mask]
        self.upper = space.upper[self.mask]

    def _do(self, problem: Problem, X: np.ndarray, **kwargs: Any) -> np.ndarray:
        X = X.copy()
        X[:, self.mask] = np.clip(np.rint(X[:, self.mask]), self.lower, self.upper)
        return X


class _DistinctObjectives(RankAndCrowding):  # type: ignore[misc]
    """Rank-and-crowding survival of one member per objective vector while there are
    enough distinct ones, the copies after them. pymoo removes duplicates in parameter
    space only, so parameter sets that differ where the objectives do not (a tick
    rounded away, a stop never reached) would otherwise fill the population."""

    def _do(self, problem: Problem, pop: Any, *args: Any, n_survive: int, **kwargs: Any) -> Any:
        first: dict[tuple[str, ...], int] = {}
        for index, row in enumerate(pop.get("F")):
            first.setdefault(objective_key(row), index)
        distinct = np.array(sorted(first.values()), dtype=int)
        if len(distinct) >= n_survive:
            return super()._do(problem, pop[distinct], *args, n_survive=n_survive, **kwargs)
        kept = super()._do(problem, pop[distinct], *args, n_survive=len(distinct), **kwargs)
        copies = np.setdiff1d(np.arange(len(pop)), distinct)
        rest = super()._do(
            problem, pop[copies], *args, n_survive=n_survive - len(distinct), **kwargs
        )
        # Copies rank below every distinct member in the tournaments that pick parents.
        rest.set("rank", rest.get("rank") + kept.get("rank").max() + 1)
        return Population.merge(kept, rest)


class Nsga2Driver(Driver):
    """One batch per generation: rank-and-crowding survival (distinct in objective space
    first), SBX and polynomial mutation, duplicate elimination and constraint domination,
    as pymoo implements them."""

    def _setup(self) -> None:
        settings = self.settings_of(Nsga2Settings)
        self.settings = settings
        self.population_size = settings.population_size
        self.generations = settings.generations
        if self.budget is not None:
            self.population_size = max(4, min(settings.population_size, self.budget // 2))
            self.generations = max(1, self.budget // self.population_size)
        space = self.space
        # Each integer (or choice) owns a cell of width one, its ends included, so the
        # uniform initial sample and the variation operators reach them at the same rate.
        half_cell = np.where(space.integer_mask, 0.5, 0.0)
        self.problem = Problem(
            n_var=space.dimensions,
            n_obj=len(self.spec.objectives),
            n_ieq_constr=constraint_columns(self.spec),
            xl=space.lower - half_cell,
            xu=space.upper + half_cell,
        )
        mutation_probability = settings.mutation_probability or 1.0 / space.dimensions
        self.algorithm = NSGA2(
            pop_size=self.population_size,
            crossover=SBX(prob=settings.crossover_probability, eta=settings.crossover_eta),
            mutation=PM(prob=1.0, prob_var=mutation_probability, eta=settings.mutation_eta),
            repair=_RoundIntegers(space),
            eliminate_duplicates=True,
            survival=_DistinctObjectives(),
        )
        self.algorithm.setup(
            self.problem, termination=("n_gen", self.generations), seed=self.seed, verbose=False
        )
        self._population: Any = None
        self.generation = 0
        self._front = RunningFront(len(self.spec.objectives))
        self._hypervolumes: list[float] = []

    @property
    def planned_evaluations(self) -> int:
        return self.population_size * self.generations

    def _ask(self) -> list[Params]:
        if self.generation >= self.generations or self._stagnated():
            return []
        self._population = self.algorithm.ask()
        return [self.space.decode(x) for x in self._population.get("X")]

    def _tell(self, batch: list[Evaluation]) -> None:
        objectives = self.objective_matrix(batch)
        violations = self.violation_matrix(batch)
        static = StaticProblem(self.problem, F=objectives, G=violations)
        Evaluator().eval(static, self._population)
        self.algorithm.tell(infills=self._population)
        self.generation += 1
        self._front.add(objectives, ~np.any(violations > 0, axis=1))
        self._hypervolumes.append(self.front_hypervolume())

    def front_hypervolume(self) -> float:
        """Hypervolume of the feasible front of every evaluation so far, in objective
        space normalized by the first generation's ranges (fixed, so values compare)."""
        return self._front.hypervolume()

    def _stagnated(self) -> bool:
        early_stop = self.settings.early_stop
        if early_stop is None or len(self._hypervolumes) <= early_stop.patience:
            return False
        recent = self._hypervolumes[-1]
        before = self._hypervolumes[-1 - early_stop.patience]
        return recent - before <= early_stop.tolerance * max(abs(before), 1e-12)

    def progress(self) -> dict[str, Any]:
        return {"generation": self.generation}


DRIVER = Nsga2Driver
