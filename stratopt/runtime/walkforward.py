"""Walk-forward analysis: each fold's search and test, and the stitched summary; the
folds run on whatever executor the search has."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from stratopt.api.v1alpha1 import OptimizationRunSpec, WalkForwardStatus
from stratopt.api.v1alpha1.optimization import FoldResult, WalkForwardSummary
from stratopt.backtest import Backtester
from stratopt.backtest.ledger import buy_and_hold
from stratopt.backtest.metrics import metrics_from_returns
from stratopt.optimize.walkforward import (
    Fold,
    parameter_stability,
    select_solution,
    stitch_returns,
)

if TYPE_CHECKING:
    from stratopt.runtime.executor import Executor


@dataclass(frozen=True)
class FoldOutcome:
    result: FoldResult
    test_equity: np.ndarray
    trade_pnls: np.ndarray
    bars_in_market: int


def run_fold(spec: OptimizationRunSpec, backtester: Backtester, fold: Fold) -> FoldOutcome:
    """Optimize on the fold's training window; trade the chosen solution on its test window.

    The fold's search is seeded from the run's seed and the fold number, so each fold is
    reproducible on its own (and on its own Job index on a cluster).
    """
    from stratopt.runtime.optimization import search

    status = search(
        spec,
        backtester,
        workers=1,
        window=fold.train,
        seed=(spec.seed + 7919 * fold.number) % 2**32,
    ).status
    chosen = select_solution(spec, status)
    in_sample = backtester.evaluate(chosen.parameters, fold.train)
    test = backtester.run(chosen.parameters, fold.test)
    index = backtester.data.index
    trades = test.trades
    held = int((trades.exit_bar - trades.entry_bar + 1).sum()) if len(trades) else 0
    result = FoldResult(
        fold=fold.number,
        train_start=index[fold.train[0]].isoformat(),
        train_end=index[fold.train[1] - 1].isoformat(),
        test_start=index[fold.test[0]].isoformat(),
        test_end=index[fold.test[1] - 1].isoformat(),
        parameters=chosen.parameters,
        in_sample=in_sample,
        out_of_sample=test.metrics,
        partial=fold.partial or None,
        benchmark=buy_and_hold(backtester, fold.test)[0],
    )
    return FoldOutcome(result, test.equity.to_numpy(), trades.pnl.to_numpy(), held)


def walk_forward(
    spec: OptimizationRunSpec, backtester: Backtester, executor: Executor, folds: list[Fold]
) -> WalkForwardStatus:
    """Every fold, run by ``executor``, then the stitched out-of-sample summary."""
    return summarize_folds(spec, backtester, folds, executor.run_folds(spec, backtester, folds))


def summarize_folds(
    spec: OptimizationRunSpec,
    backtester: Backtester,
    folds: list[Fold],
    outcomes: list[FoldOutcome],
) -> WalkForwardStatus:
    """Stitch the test windows and measure what survived out of sample."""
    capital = backtester.spec.capital
    returns = stitch_returns([o.test_equity for o in outcomes], capital)
    index = backtester.data.index
    years = sum((index[f.test[1] - 1] - index[f.test[0]]).total_seconds() for f in folds)
    years /= 365.25 * 86400
    metrics = metrics_from_returns(
        returns,
        np.concatenate([o.trade_pnls for o in outcomes]),
        capital=capital,
        bars_in_market=sum(o.bars_in_market for o in outcomes),
        years=years,
        periods_per_year=backtester.data.periods_per_year,
    )
    in_sample = float(np.mean([o.result.in_sample["cagr"] for o in outcomes]))
    efficiency = metrics["cagr"] / in_sample if in_sample > 0 else 0.0
    return WalkForwardStatus(
        folds=[o.result for o in outcomes],
        summary=WalkForwardSummary(
            metrics=metrics,
            efficiency=efficiency,
            parameter_stability=parameter_stability(spec, [o.result.parameters for o in outcomes]),
        ),
    )
