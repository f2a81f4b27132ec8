"""What the optimization loop and walk-forward need from a backend: evaluate a batch,
run the walk-forward folds.

Two backends implement it: :class:`stratopt.runtime.local.LocalExecutor` (a process pool
on this machine) and :class:`stratopt.runtime.distributed.StoredExecutor` (what Job pods
computed and stored in the cluster, read back and checked against what is asked).
``tests/runtime/test_executors.py`` holds them to the same results for the same seed.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Protocol

import numpy as np

if TYPE_CHECKING:
    from stratopt.api.v1alpha1 import OptimizationRunSpec
    from stratopt.backtest import Backtester
    from stratopt.optimize.walkforward import Fold
    from stratopt.runtime.walkforward import FoldOutcome

Params = dict[str, float]
Metrics = dict[str, float]


class Executor(Protocol):
    """Evaluates a search's batches and runs its walk-forward folds."""

    def evaluate(self, number: int, batch: Sequence[Params]) -> list[Metrics]:
        """The metrics of batch ``number``'s parameter sets, in order."""
        ...

    def run_folds(
        self, spec: OptimizationRunSpec, backtester: Backtester, folds: list[Fold]
    ) -> list[FoldOutcome]:
        """Each fold's outcome (:func:`stratopt.runtime.walkforward.run_fold`), in order."""
        ...

    @property
    def block_returns(self) -> Mapping[tuple[float, ...], np.ndarray]:
        """Per-block sums of the bar returns of what it evaluated, where it kept them
        (the diagnostics re-run the rest)."""
        ...

    def close(self) -> None:
        """Release what it holds (processes, connections); used again, it takes them
        anew."""
        ...
