"""Overfitting diagnostics of a finished search: the best solution's bar returns, and
the per-block return sums of a bounded, evenly spread sample of the evaluated
configurations (kept by the search where it ran here, re-run otherwise)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from stratopt.api.v1alpha1 import Diagnostics
from stratopt.backtest import Backtester
from stratopt.optimize import Evaluation
from stratopt.optimize.diagnostics import deflated_sharpe, probability_of_overfitting
from stratopt.runtime.local import RETURN_BLOCKS

#: At most this many configurations enter CSCV, whatever the size of the search.
PBO_CONFIGURATIONS = 200


def bar_returns(
    backtester: Backtester, parameters: dict[str, float], window: tuple[int, int] | None = None
) -> np.ndarray:
    """Bar returns of one configuration (the first bar against the initial capital)."""
    equity, _ = backtester.record(parameters, window)
    previous = np.concatenate(([backtester.spec.capital], equity[:-1]))
    return np.asarray(equity / previous - 1.0)


def _block_returns(
    backtester: Backtester,
    trial: Evaluation,
    window: tuple[int, int] | None,
    known: Mapping[tuple[float, ...], np.ndarray],
) -> np.ndarray:
    kept = known.get(tuple(trial.parameters.values()))
    if kept is not None and len(kept) == RETURN_BLOCKS:
        return kept
    return backtester.evaluate_blocks(trial.parameters, window, RETURN_BLOCKS)[1]


def diagnose(
    backtester: Backtester,
    evaluations: Sequence[Evaluation],
    best: dict[str, float],
    window: tuple[int, int] | None = None,
    known: Mapping[tuple[float, ...], np.ndarray] | None = None,
) -> Diagnostics:
    """DSR of ``best`` given every trial, and PBO over a sample of the configurations.

    ``known`` holds the per-block return sums the search kept, by parameter values.
    """
    unique: dict[tuple[float, ...], Evaluation] = {}
    for e in evaluations:
        unique.setdefault(tuple(e.parameters.values()), e)
    trials = list(unique.values())
    returns = bar_returns(backtester, best, window)
    dsr = deflated_sharpe(
        returns,
        np.array([e.metrics["sharpe_ratio"] for e in trials]),
        backtester.data.periods_per_year,
    )
    diagnostics = Diagnostics(
        deflated_sharpe=dsr.probability,
        sharpe=dsr.sharpe,
        expected_max_sharpe=dsr.expected_max_sharpe,
        trials=dsr.trials,
        skewness=dsr.skewness,
        kurtosis=dsr.kurtosis,
    )
    known = known or {}
    if len(trials) >= 2 and len(returns) >= 2 * RETURN_BLOCKS:
        picks = np.unique(
            np.linspace(0, len(trials) - 1, min(len(trials), PBO_CONFIGURATIONS))
            .round()
            .astype(int)
        )
        summaries = np.stack([_block_returns(backtester, trials[i], window, known) for i in picks])
        pbo = probability_of_overfitting(summaries)
        diagnostics.pbo = pbo.probability
        diagnostics.pbo_configurations = pbo.configurations
        diagnostics.pbo_blocks = pbo.blocks
    return diagnostics
