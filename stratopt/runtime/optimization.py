"""The optimization loop: ask a batch, evaluate it, tell the results, until done.

It takes any :class:`~stratopt.runtime.executor.Executor`: ``stratopt run`` and a
single-mode Job pod use the :class:`LocalExecutor`, a distributed run's finalize pod the
results its shard and fold pods stored. The operator drives the same drivers batch by
batch through Kubernetes Jobs.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

import numpy as np

from stratopt.api.v1alpha1 import OptimizationRunSpec, OptimizationRunStatus
from stratopt.backtest import Backtester
from stratopt.backtest.ledger import buy_and_hold
from stratopt.backtest.metrics import INFEASIBLE, undefined_ratio
from stratopt.data import MarketData
from stratopt.optimize import (
    DRIVERS,
    Driver,
    Evaluation,
    ProgressTracker,
    check_space_against_strategy,
    summarize,
)
from stratopt.optimize.results import BatchProgress, ProgressCallback
from stratopt.runtime.checks import (
    largest_position_size,
    probe_parameter_sets,
    probe_strategy,
    quote_warnings,
    sizing_warnings,
    smallest_values,
    stop_out_warnings,
)
from stratopt.runtime.diagnostics import diagnose
from stratopt.runtime.local import LocalExecutor
from stratopt.runtime.robustness import benchmark_warnings, pick_robustness

if TYPE_CHECKING:
    from stratopt.runtime.executor import Executor


@dataclass(frozen=True)
class OptimizationOutcome:
    """The status, every evaluation made (in order), and the per-block sums of bar
    returns of those evaluated here (see :class:`LocalExecutor`)."""

    status: OptimizationRunStatus
    evaluations: list[Evaluation]
    block_returns: Mapping[tuple[float, ...], np.ndarray] = field(default_factory=dict)
    #: The run's backtester, its data loaded: what re-runs a pick for its trades.
    backtester: Backtester | None = None


def prepare(spec: OptimizationRunSpec, data: MarketData | None = None) -> Backtester:
    """The backtester for ``spec``, after checking the search space against the strategy
    and the data against the longest lookback the search may try."""
    backtester = Backtester(spec.backtest, data)
    check_space_against_strategy(spec.parameters, backtester.strategy)
    backtester.check_enough_bars(backtester.parameters(upper_corner(spec), "spec.parameters"))
    return backtester


def upper_corner(spec: OptimizationRunSpec) -> dict[str, Any]:
    """Every searched parameter at its largest value: the longest lookback tried."""
    return {r.name: (r.max if r.values is None else max(r.values)) for r in spec.parameters}


def undefined_ratio_warnings(
    spec: OptimizationRunSpec, evaluations: Sequence[Evaluation]
) -> list[str]:
    """Evaluations whose objective or constraint ratio had nothing to divide by: reported
    as 0 (metrics stay finite), the search scores them as the worst at it."""
    used = [o.name for o in spec.objectives] + [c.metric for c in spec.constraints]
    found = []
    for metric in dict.fromkeys(used):
        reasons = [r for e in evaluations if (r := undefined_ratio(metric, e.metrics))]
        if reasons:
            found.append(
                f"{len(reasons)} of {len(evaluations)} evaluations have {reasons[0]}: their "
                f"{metric} is reported as 0, which scores them as the worst, not the best; "
                "keep such solutions out with minTrades or a num_trades constraint, or weigh "
                "another objective"
            )
    return found


def run_optimization(
    spec: OptimizationRunSpec,
    *,
    workers: int | None = None,
    data: MarketData | None = None,
    on_batch: ProgressCallback | None = None,
    executor: Executor | None = None,
) -> OptimizationOutcome:
    """Run the whole search, its diagnostics, and any walk-forward.

    ``executor`` evaluates the search's batches and runs the walk-forward folds; by
    default a :class:`LocalExecutor` of ``workers`` processes. Everything else is the
    same code path, so the same spec gives the same status with any executor.
    """
    backtester = prepare(spec, data)
    probed = probe_strategy(backtester, probe_parameter_sets(spec, backtester))
    with contextlib.ExitStack() as owned:
        if executor is None:
            executor = owned.enter_context(
                LocalExecutor(backtester, workers or spec.execution.workers)
            )
        outcome = _optimize(spec, backtester, executor, on_batch)
    outcome.status.warnings[:0] = probed
    return replace(outcome, backtester=backtester)


def _optimize(
    spec: OptimizationRunSpec,
    backtester: Backtester,
    executor: Executor,
    on_batch: ProgressCallback | None,
) -> OptimizationOutcome:
    folds = None
    if spec.walk_forward is not None:
        from stratopt.optimize.walkforward import checked_folds, untested_tail

        # Before the search: windows that fit no fold would fail the run after it.
        folds = checked_folds(spec, backtester.data.index)
    outcome = search(spec, backtester, on_batch=on_batch, executor=executor)
    executor.close()  # e.g. a process pool, idle through the diagnostics
    status = outcome.status
    status.warnings += sizing_warnings(backtester, largest_position_size(spec, backtester))
    status.warnings += quote_warnings(backtester, smallest_values(spec))
    status.warnings += undefined_ratio_warnings(spec, outcome.evaluations)
    if status.best is not None:
        backtests = [e for e in outcome.evaluations if not e.metrics.get(INFEASIBLE)]
        status.diagnostics = diagnose(
            backtester, backtests, status.best.parameters, known=outcome.block_returns
        )
        status.warnings += stop_out_warnings(backtester, status.best.parameters)
    status.benchmark, _ = buy_and_hold(backtester)
    if status.picks is not None:
        status.robustness, fragile = pick_robustness(spec, backtester, status.picks)
        status.warnings += fragile
        status.warnings += benchmark_warnings(status.picks, status.benchmark)
    if folds is not None:
        from stratopt.runtime.walkforward import walk_forward

        status.walk_forward = walk_forward(spec, backtester, executor, folds)
        if (tail := untested_tail(backtester.data.index, folds)) is not None:
            status.warnings.append(tail)
        if len(status.walk_forward.folds) == 1:
            status.warnings.append(
                "walk-forward made one fold: its out-of-sample result is a single test "
                "window; use shorter windows or more data for several"
            )
    return outcome


def search(
    spec: OptimizationRunSpec,
    backtester: Backtester,
    *,
    workers: int | None = None,
    window: tuple[int, int] | None = None,
    seed: int | None = None,
    on_batch: ProgressCallback | None = None,
    executor: Executor | None = None,
) -> OptimizationOutcome:
    """The search alone, on ``window`` of the data (all of it by default); ``executor``
    evaluates its batches, by default a :class:`LocalExecutor` of ``workers`` processes
    on that window."""
    driver: Driver = DRIVERS[spec.algorithm.name](spec, seed=seed)
    tracker = ProgressTracker(spec)
    with contextlib.ExitStack() as owned:
        if executor is None:
            executor = owned.enter_context(
                LocalExecutor(backtester, workers or spec.execution.workers, window)
            )
        while batch := driver.ask():
            driver.tell(executor.evaluate(len(driver.history), batch))
            entry = tracker.record(driver.evaluations)
            if on_batch is not None:
                where = driver.progress()
                on_batch(
                    BatchProgress(
                        batch=int(entry["batch"]),
                        evaluations=int(entry["evaluations"]),
                        planned=driver.planned_evaluations,
                        generation=where.get("generation"),
                        member=where.get("member"),
                        best_objective=entry.get("bestObjective"),
                        hypervolume=entry.get("hypervolume"),
                    )
                )
    evaluations = driver.evaluations
    notes = driver.notes()
    status = summarize(
        spec,
        evaluations,
        planned=driver.planned_evaluations,
        batches=len(driver.history),
        history=tracker.history,
        generation=driver.progress().get("generation"),
    )
    status.warnings[:0] = notes
    return OptimizationOutcome(
        status=status, evaluations=evaluations, block_returns=executor.block_returns
    )
