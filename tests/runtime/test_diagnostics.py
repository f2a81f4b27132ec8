"""The search keeps each evaluation's per-block return sums, so the diagnostics after it
need no re-runs and come out as a re-run would give them."""

from __future__ import annotations

import numpy as np
import pytest

from stratopt.api.v1alpha1 import FillConvention
from stratopt.backtest import Backtester
from stratopt.optimize.diagnostics import block_summaries
from stratopt.runtime.diagnostics import bar_returns, diagnose
from stratopt.runtime.local import RETURN_BLOCKS, LocalExecutor
from stratopt.runtime.optimization import prepare, search
from tests.optimize.conftest import small_spec


@pytest.mark.parametrize("fill", list(FillConvention))
@pytest.mark.parametrize("window", [None, (700, 2300)])
def test_block_sums_from_the_kernel_equal_those_of_the_recorded_returns(
    fill: FillConvention, window: tuple[int, int] | None
) -> None:
    spec = small_spec("grid").backtest.model_copy(update={"fill": fill})
    backtester = Backtester(spec)
    for params in ({"stop_loss": 15.0, "take_profit": 30.0}, {"rsi_period": 7.0}):
        metrics, blocks = backtester.evaluate_blocks(params, window, RETURN_BLOCKS)
        assert metrics == backtester.evaluate(params, window)
        recorded = block_summaries(bar_returns(backtester, params, window), RETURN_BLOCKS)
        assert recorded[:, 0].any(), "the case needs returns"
        np.testing.assert_allclose(blocks, recorded, rtol=1e-12, atol=1e-18)


def test_diagnostics_from_the_kept_sums_equal_those_from_re_runs() -> None:
    spec = small_spec("random")
    backtester = prepare(spec)
    outcome = search(spec, backtester, workers=2)
    assert len(outcome.block_returns) == len(outcome.evaluations)
    best = outcome.status.best
    assert best is not None
    kept = diagnose(backtester, outcome.evaluations, best.parameters, known=outcome.block_returns)
    re_run = diagnose(backtester, outcome.evaluations, best.parameters)
    assert kept.pbo is not None and kept.pbo_configurations == len(outcome.evaluations)
    assert kept == re_run


def test_the_local_executor_keeps_sums_from_its_pool_and_from_this_process() -> None:
    backtester = Backtester(small_spec("grid").backtest)
    batch = [{"stop_loss": float(s), "take_profit": 60.0} for s in range(10, 90, 2)]
    with LocalExecutor(backtester, workers=2) as pooled, LocalExecutor(backtester, 1) as alone:
        assert pooled.evaluate(0, batch) == alone.evaluate(0, batch)
        for params in batch:
            key = tuple(params.values())
            np.testing.assert_array_equal(pooled.block_returns[key], alone.block_returns[key])
