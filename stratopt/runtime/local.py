"""``LocalExecutor``: evaluates batches and runs walk-forward folds on a process pool on
this machine (see :class:`stratopt.runtime.executor.Executor`).

Workers are forked after the backtester is built, so each inherits the loaded data,
the cached indicators and the compiled engine instead of rebuilding them. Results come
back in batch order, so they do not depend on the number of workers. A parameter set
evaluated before (a genetic search repeats some) is not evaluated again.

Each evaluation also keeps the per-block sums of its bar returns, so the overfitting
diagnostics after the search need not re-run the configurations they sample.
"""

from __future__ import annotations

import multiprocessing
import os
import sys
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from types import TracebackType
from typing import TYPE_CHECKING

import numpy as np

from stratopt.backtest import Backtester

if TYPE_CHECKING:
    from stratopt.api.v1alpha1 import OptimizationRunSpec
    from stratopt.optimize.walkforward import Fold
    from stratopt.runtime.walkforward import FoldOutcome

#: Blocks of bar returns kept per evaluation: CSCV's C(16, 8) = 12,870 splits.
RETURN_BLOCKS = 16

_worker_backtester: Backtester | None = None
_worker_search: tuple[OptimizationRunSpec, Backtester] | None = None
Outcome = tuple[dict[str, float], np.ndarray]


def die_with_parent(parent: int) -> None:
    """Have the kernel kill this worker process when the process that started it dies,
    however it dies (SIGKILL included): no evaluation outlives its run. Linux only; a
    no-op elsewhere."""
    if not sys.platform.startswith("linux"):
        return
    import ctypes
    import signal

    set_parent_death_signal = 1  # PR_SET_PDEATHSIG
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(set_parent_death_signal, signal.SIGKILL, 0, 0, 0)
    if os.getppid() != parent:  # the parent died before the call: nothing would signal us
        os._exit(1)


def _evaluate_all(
    backtester: Backtester, chunk: Sequence[dict[str, float]], window: tuple[int, int] | None
) -> list[Outcome]:
    bars = (window[1] - window[0]) if window is not None else len(backtester.data)
    blocks = min(RETURN_BLOCKS, bars)
    return [backtester.evaluate_candidate_blocks(params, window, blocks) for params in chunk]


def _evaluate_chunk(
    chunk: Sequence[dict[str, float]], window: tuple[int, int] | None
) -> list[Outcome]:
    assert _worker_backtester is not None, "worker started without a backtester"
    return _evaluate_all(_worker_backtester, chunk, window)


def _run_fold(fold: Fold) -> FoldOutcome:
    from stratopt.runtime.walkforward import run_fold

    assert _worker_search is not None, "worker started without a search"
    return run_fold(*_worker_search, fold)


class LocalExecutor:
    """Evaluates parameter sets with one backtester, in parallel when it pays.

    Args:
        backtester: evaluates one parameter set.
        workers: processes to use; default all cores. 1 evaluates in this process.
        window: (start, end) bars to trade in; default all.
    """

    #: Below this many evaluations per worker, inter-process overhead outweighs the gain.
    MIN_PER_WORKER = 8

    def __init__(
        self,
        backtester: Backtester,
        workers: int | None = None,
        window: tuple[int, int] | None = None,
    ) -> None:
        self.backtester = backtester
        self.window = window
        self.workers = max(1, workers or os.cpu_count() or 1)
        self._pool: ProcessPoolExecutor | None = None
        #: Per-block (sum, sum of squares, count) of each evaluated parameter set's bar
        #: returns, keyed by its values in order.
        self.block_returns: dict[tuple[float, ...], np.ndarray] = {}
        self._known: dict[tuple[float, ...], dict[str, float]] = {}

    def evaluate(self, number: int, batch: Sequence[dict[str, float]]) -> list[dict[str, float]]:
        """Metrics of each parameter set of batch ``number``, in order."""
        keys = [tuple(params.values()) for params in batch]
        fresh = {k: p for k, p in zip(keys, batch, strict=True) if k not in self._known}
        for key, metrics in zip(fresh, self._evaluate(list(fresh.values())), strict=True):
            self._known[key] = metrics
        return [self._known[key] for key in keys]

    def _evaluate(self, batch: Sequence[dict[str, float]]) -> list[dict[str, float]]:
        if self.workers == 1 or len(batch) < self.workers * self.MIN_PER_WORKER:
            outcomes = _evaluate_all(self.backtester, batch, self.window)
        else:
            outcomes = []
            if self._pool is None:
                # One evaluation here first: the workers forked next inherit the loaded
                # kernels and the indicators it computed instead of each loading them.
                outcomes = _evaluate_all(self.backtester, batch[:1], self.window)
            rest = batch[len(outcomes) :]
            pool = self._ensure_pool()
            chunks = self.workers * 4
            size = -(-len(rest) // chunks)
            pieces = [rest[i : i + size] for i in range(0, len(rest), size)]
            windows = [self.window] * len(pieces)
            outcomes += [o for part in pool.map(_evaluate_chunk, pieces, windows) for o in part]
        for params, (_, blocks) in zip(batch, outcomes, strict=True):
            self.block_returns[tuple(params.values())] = blocks
        return [metrics for metrics, _ in outcomes]

    def run_folds(
        self, spec: OptimizationRunSpec, backtester: Backtester, folds: list[Fold]
    ) -> list[FoldOutcome]:
        """Every fold, each in a process of its own when there are several cores (each
        fold's search runs in one)."""
        global _worker_search
        from stratopt.runtime.walkforward import run_fold

        self.close()  # the evaluation pool; the fold processes fork from here instead
        processes = min(self.workers, len(folds))
        if processes <= 1:
            return [run_fold(spec, backtester, fold) for fold in folds]
        _worker_search = (spec, backtester)
        context = multiprocessing.get_context("fork")
        with ProcessPoolExecutor(
            processes, mp_context=context, initializer=die_with_parent, initargs=(os.getpid(),)
        ) as pool:
            return list(pool.map(_run_fold, folds))

    def _ensure_pool(self) -> ProcessPoolExecutor:
        global _worker_backtester
        if self._pool is None:
            _worker_backtester = self.backtester
            context = multiprocessing.get_context("fork")
            self._pool = ProcessPoolExecutor(
                self.workers,
                mp_context=context,
                initializer=die_with_parent,
                initargs=(os.getpid(),),
            )
        return self._pool

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None

    def __enter__(self) -> LocalExecutor:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()
