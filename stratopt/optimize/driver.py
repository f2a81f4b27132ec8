"""The ask/tell driver every search algorithm implements.

A driver's state is a pure function of the spec (with its seed) and the results told so
far: :meth:`Driver.resumed` rebuilds a driver by asking again and telling the stored
results, and checks that each batch asked is the batch that was stored. This is what
makes an interrupted run resumable and the local and cluster runs identical.

Subclasses fill in :meth:`_setup`, :meth:`_ask` and :meth:`_tell`; the public
:meth:`ask` and :meth:`tell` do the bookkeeping and checks once, here.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Self, TypeVar

import numpy as np

from stratopt.api.v1alpha1 import AlgorithmSettings, OptimizationRunSpec
from stratopt.errors import InputError, StratoptError
from stratopt.optimize.objectives import minimized, violations
from stratopt.optimize.space import Params, SearchSpace

SettingsT = TypeVar("SettingsT", bound=AlgorithmSettings)

#: Doublings of a sample drawn to find enough points that keep the parameter constraints.
SAMPLE_DOUBLINGS = 8


@dataclass(frozen=True)
class Evaluation:
    """A parameter set and the metrics its backtest produced."""

    parameters: Params
    metrics: dict[str, float]


class ReplayMismatchError(StratoptError):
    """Stored results do not belong to this spec (a batch asked differs from the stored one)."""

    reason = "ReplayMismatch"


def check_replayed(number: int, asked: Sequence[Params], stored: Sequence[Params]) -> None:
    """Raise :class:`ReplayMismatchError` saying where the parameter sets a driver asks
    for batch ``number`` differ from those the batch was evaluated with: results are
    only ever paired with the parameters they were computed for."""
    if len(asked) != len(stored):
        raise ReplayMismatchError(
            f"batch {number}: {len(stored)} parameter sets were evaluated but the search asks "
            f"for {len(asked)}; was the spec or stratopt changed during the run?"
        )
    for index, (want, have) in enumerate(zip(asked, stored, strict=True)):
        if want != have:
            raise ReplayMismatchError(
                f"batch {number}, evaluation {index}: evaluated with {have} but the search "
                f"asks for {want}; was the spec or stratopt changed during the run?"
            )


class Driver(ABC):
    """Base of all search algorithms.

    Args:
        spec: the run's spec; its seed is the only source of randomness.
        budget: evaluations allowed, for drivers run as ensemble members.
        seed: overrides ``spec.seed`` (ensemble members get derived seeds).
    """

    def __init__(
        self, spec: OptimizationRunSpec, *, budget: int | None = None, seed: int | None = None
    ) -> None:
        self.spec = spec
        self.space = SearchSpace(spec.parameters)
        self.seed = spec.seed if seed is None else seed
        self.budget = budget
        self.history: list[list[Evaluation]] = []
        self._pending: list[Params] | None = None
        self._finished = False
        self._setup()

    # -- public protocol -------------------------------------------------------------
    def ask(self) -> list[Params]:
        """The next batch of parameter sets to evaluate; empty when the search is done."""
        if self._pending is not None:
            raise RuntimeError("ask() called twice: tell() the results of the last batch first")
        if self._finished:
            return []
        batch = self._ask()
        if not batch:
            self._finished = True
            return []
        self._pending = batch
        return [dict(p) for p in batch]

    def tell(self, metrics: Sequence[dict[str, float]]) -> None:
        """Feed back the metrics of the batch last asked, in the same order."""
        if self._pending is None:
            raise RuntimeError("tell() without a pending batch: call ask() first")
        if len(metrics) != len(self._pending):
            raise ValueError(
                f"tell() got {len(metrics)} results for a batch of {len(self._pending)}"
            )
        batch = [Evaluation(p, dict(m)) for p, m in zip(self._pending, metrics, strict=True)]
        self._pending = None
        self.history.append(batch)
        self._tell(batch)

    @property
    def done(self) -> bool:
        return self._finished

    @property
    def evaluations(self) -> list[Evaluation]:
        """Everything told so far, in order."""
        return [e for batch in self.history for e in batch]

    @property
    def planned_evaluations(self) -> int:
        """Evaluations the search will make at most: its budget as an ensemble member,
        else what its settings plan for the spec. Drivers that know better (points the
        parameter constraints leave out) say so."""
        if self.budget is not None:
            return self.budget
        return self.spec.algorithm.settings().planned_evaluations(self.spec)

    def notes(self) -> list[str]:
        """What the search wants said in the run's warnings, if anything."""
        return []

    def progress(self) -> dict[str, Any]:
        """Algorithm-specific progress fields (e.g. the generation)."""
        return {}

    @classmethod
    def resumed(
        cls, spec: OptimizationRunSpec, history: Sequence[Sequence[Evaluation]], **kwargs: Any
    ) -> Self:
        """Rebuild a driver from stored batches of results.

        Raises:
            ReplayMismatchError: a stored batch is not what this spec asks for.
        """
        driver = cls(spec, **kwargs)
        for number, stored in enumerate(history):
            check_replayed(number, driver.ask(), [e.parameters for e in stored])
            driver.tell([e.metrics for e in stored])
        return driver

    # -- template hooks --------------------------------------------------------------
    @abstractmethod
    def _setup(self) -> None:
        """Build the algorithm's state from ``self.spec`` and ``self.seed``."""

    @abstractmethod
    def _ask(self) -> list[Params]:
        """The next batch, or an empty list when done."""

    @abstractmethod
    def _tell(self, batch: list[Evaluation]) -> None:
        """Absorb the results of the batch last asked."""

    # -- helpers for subclasses ------------------------------------------------------
    def settings_of(self, kind: type[SettingsT]) -> SettingsT:
        """The spec's settings of this algorithm; its defaults when it runs as an
        ensemble member (the spec's settings are then the ensemble's)."""
        found = self.spec.algorithm.settings()
        return found if isinstance(found, kind) else kind()

    def objective_matrix(self, batch: Sequence[Evaluation]) -> np.ndarray:
        """Objectives of ``batch`` as rows to *minimize* (maximized ones negated)."""
        return minimized(self.spec, batch)

    def violation_matrix(self, batch: Sequence[Evaluation]) -> np.ndarray:
        """Constraint violations of ``batch`` (0 = satisfied), one column each."""
        return violations(self.spec, batch)

    def allowed(self, params: Params) -> bool:
        """Whether ``params`` keep the spec's parameter constraints."""
        return self.spec.parameter_violation(params) == 0

    def allowed_sample(self, draw: Callable[[int], list[Params]], count: int) -> list[Params]:
        """The first ``count`` points of ``draw(n)`` that keep the parameter constraints,
        drawing twice as many each time until enough do (fewer when even
        :data:`SAMPLE_DOUBLINGS` doublings leave too few).

        Raises:
            InputError: no point drawn keeps them, naming ``spec.parameterConstraints``.
        """
        if not self.spec.parameter_relations or count == 0:
            return draw(count)
        drawn = count
        for _ in range(SAMPLE_DOUBLINGS):
            kept = [p for p in draw(drawn) if self.allowed(p)]
            if len(kept) >= count:
                return kept[:count]
            drawn *= 2
        if not kept:
            raise InputError(
                "spec.parameterConstraints",
                f"none of {drawn // 2} points drawn from the parameter ranges keeps "
                f"{self.spec.parameter_constraints}; widen the ranges or loosen the constraints",
            )
        return kept
