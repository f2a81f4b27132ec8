"""A distributed search: when a search is one, and where it stands, rebuilt from what its
pods stored (:mod:`stratopt.runtime.stored`): the driver is asked and told every batch
whose results are stored.

Replaying the stored results is what makes the operator restart-safe: whatever it
remembered is gone after a restart, and nothing is lost or evaluated twice, because the
stored results say exactly which batches are done.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from stratopt.api.v1alpha1 import OptimizationRunSpec
from stratopt.api.v1alpha1.limits import bars
from stratopt.optimize import DRIVERS, Driver
from stratopt.optimize.driver import check_replayed
from stratopt.runtime.stored import (
    Params,
    ResultMissingError,
    StoredResults,
    batch_config_maps,
    stored_batch,
    stored_folds,
)

if TYPE_CHECKING:
    from stratopt.backtest import Backtester
    from stratopt.optimize.walkforward import Fold
    from stratopt.runtime.walkforward import FoldOutcome


def stored_metrics(
    results: StoredResults, name: str, revision: str, number: int, asked: list[Params]
) -> list[dict[str, float]] | None:
    """The stored metrics of batch ``number``, in order, once the parameter sets it was
    evaluated with are checked to be ``asked``; None while any shard is missing.

    Raises:
        ReplayMismatchError: what was evaluated is not what the search asks now (the
            spec, or stratopt, changed during the run).
    """
    stored = stored_batch(results, name, revision, number)
    if stored is None:
        return None
    check_replayed(number, asked, [e.parameters for e in stored])
    return [e.metrics for e in stored]


class StoredExecutor:
    """The Kubernetes Jobs backend of :class:`~stratopt.runtime.executor.Executor`: what
    a run's shard and fold pods computed and stored in its result ConfigMaps, read back.
    Each batch is told only once its stored inputs are checked to be the batch asked.

    Args:
        results: the run's revision's result ConfigMaps' data, by name.
        name: the run's name.
        revision: the revision the results belong to.
    """

    def __init__(self, results: StoredResults, name: str, revision: str) -> None:
        self.results, self.name, self.revision = results, name, revision

    def evaluate(self, number: int, batch: Sequence[Params]) -> list[dict[str, float]]:
        metrics = stored_metrics(self.results, self.name, self.revision, number, list(batch))
        if metrics is None:
            raise ResultMissingError(f"the results of batch {number} are missing")
        return metrics

    def run_folds(
        self, spec: OptimizationRunSpec, backtester: Backtester, folds: list[Fold]
    ) -> list[FoldOutcome]:
        return stored_folds(self.results, self.name, self.revision, len(folds))

    @property
    def block_returns(self) -> Mapping[tuple[float, ...], np.ndarray]:
        return {}  # pods keep no per-block sums: the diagnostics re-run what they sample

    def close(self) -> None:
        pass


@dataclass
class SearchState:
    """Where a distributed search stands."""

    driver: Driver
    batch: int  # number of the first batch without results
    pending: list[Params] | None  # its parameter sets; None when the search is done
    #: The stored inputs and results told to the driver, by ConfigMap name, as read.
    told: dict[str, Mapping[str, str]] = field(default_factory=dict)

    def still_stored(self, results: StoredResults) -> bool:
        """Whether everything told is stored still, unchanged: a result deleted or an
        input edited since makes the replay start over (and find out)."""
        return all(results.get(name) == data for name, data in self.told.items())


def search_state(
    spec: OptimizationRunSpec,
    results: StoredResults,
    name: str,
    revision: str,
    resume: SearchState | None = None,
) -> SearchState:
    """Ask and tell through every batch with stored results; stop at the first without.
    Each batch's results are told only after its stored inputs are checked to be the
    batch asked (:func:`stored_metrics`).

    ``resume`` carries on from an earlier replay of the same run instead of from the
    start: a driver's state depends only on what it was told, so both end the same. A
    resumed replay whose told batches are no longer stored as they were starts over.
    """
    batch: list[Params] | None
    told: dict[str, Mapping[str, str]]
    if resume is None or not resume.still_stored(results):
        driver, told = DRIVERS[spec.algorithm.name](spec), {}
        number, batch = 0, driver.ask()
    else:
        driver, number, batch = resume.driver, resume.batch, resume.pending
        told = dict(resume.told)
    while batch:
        metrics = stored_metrics(results, name, revision, number, batch)
        if metrics is None:
            return SearchState(driver, number, batch, told)
        driver.tell(metrics)
        told.update(batch_config_maps(results, name, revision, number))
        number += 1
        batch = driver.ask()
    return SearchState(driver, number, None, told)


#: Seconds a worker pod takes to start and load its run (measured on the test harness).
POD_STARTUP_SECONDS = 3.0
#: One evaluation on one core: the engine's bar loop (~150-200 Mbar/s, so 5 ns a bar is
#: on the slow side) plus indicators and bookkeeping.
SECONDS_PER_BAR = 5e-9
SECONDS_PER_EVALUATION = 2e-4


def execution_mode(spec: OptimizationRunSpec) -> str:
    """'single' or 'distributed'. ``auto`` distributes a search only when evaluating one
    batch on one core would take twenty pod start-ups or more: below that, the start-up
    of a Job per batch costs more than its pods save. The batch is sized from the spec
    alone: nothing is sampled."""
    if spec.execution.mode != "auto":
        return spec.execution.mode
    per_evaluation = bars(spec.backtest.data.source) * SECONDS_PER_BAR + SECONDS_PER_EVALUATION
    seconds = spec.algorithm.settings().first_batch(spec) * per_evaluation
    return "distributed" if seconds > 20 * POD_STARTUP_SECONDS else "single"
