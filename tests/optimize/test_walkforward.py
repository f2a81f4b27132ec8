"""Walk-forward analysis: windows, no look-ahead, determinism, and honest diagnostics."""

from __future__ import annotations

import itertools
from typing import Any

import numpy as np
import pandas as pd
import pytest

from stratopt.api.v1alpha1 import OptimizationRunSpec, WalkForwardSpec
from stratopt.backtest import Backtester
from stratopt.data import MarketData, synthesize_ohlcv
from stratopt.errors import InputError
from stratopt.optimize.walkforward import fold_windows, untested_tail
from stratopt.runtime import run_optimization
from stratopt.runtime.walkforward import run_fold


def spec(source: str, **walk_forward: Any) -> OptimizationRunSpec:
    return OptimizationRunSpec.model_validate(
        {
            "seed": 11,
            "backtest": {
                "data": {"source": source},
                "leverage": 10,
                "strategy": {"name": "rsi_reversion", "parameters": {"rsi_period": 5}},
            },
            "parameters": [
                {"name": "stop_loss", "min": 10, "max": 80},
                {"name": "take_profit", "min": 10, "max": 120},
                {"name": "rsi_threshold", "min": 10, "max": 45},
            ],
            "objectives": [{"name": "sharpe_ratio"}, {"name": "max_drawdown"}],
            "algorithm": {"name": "nsga2", "nsga2": {"populationSize": 16, "generations": 4}},
            "walkForward": {"train": 4000, "test": 2000, **walk_forward},
        }
    )


def index(bars: int) -> pd.DatetimeIndex:
    return synthesize_ohlcv(f"synthetic:walk?bars={bars}&seed=1").index


def test_rolling_windows_never_overlap() -> None:
    folds = fold_windows(index(62000), WalkForwardSpec(train="3y", test="1y"))
    assert len(folds) == 7
    for fold, following in itertools.pairwise(folds):
        assert fold.train[1] == fold.test[0], "test starts right after training"
        assert fold.test[1] == following.test[0], "test windows are consecutive"
        assert fold.train[0] < following.train[0]
    assert all(f.train[0] < f.train[1] <= f.test[0] < f.test[1] for f in folds)


def test_anchored_step_and_fold_limit() -> None:
    anchored = fold_windows(index(10000), WalkForwardSpec(train=4000, test=2000, anchored=True))
    assert [f.train for f in anchored] == [(0, 4000), (0, 6000), (0, 8000)]
    stepped = fold_windows(index(10000), WalkForwardSpec(train=4000, test=2000, step=1000))
    assert [f.test[0] for f in stepped] == [4000, 5000, 6000, 7000, 8000]
    last_two = fold_windows(index(10000), WalkForwardSpec(train=4000, test=2000, folds=2))
    assert [(f.number, f.test) for f in last_two] == [(1, (6000, 8000)), (2, (8000, 10000))]
    with pytest.raises(InputError, match="no fold fits") as caught:
        fold_windows(index(1000), WalkForwardSpec(train="3y", test="1y"))
    assert caught.value.field == "spec.walkForward"


def test_the_last_test_window_reaches_the_end_of_the_data() -> None:
    daily = pd.bdate_range("1999-01-01", "2018-12-31")
    folds = fold_windows(daily, WalkForwardSpec(train="5y", test="2y"))
    assert folds[-1].test[1] == len(daily), "the most recent bars are tested"
    assert folds[-1].partial and not any(f.partial for f in folds[:-1])
    assert daily[folds[-1].test[0]].year == 2018
    assert untested_tail(daily, folds) is None
    whole = fold_windows(index(10000), WalkForwardSpec(train=4000, test=3000))
    assert [(f.test, f.partial) for f in whole] == [((4000, 7000), False), ((7000, 10000), False)]


def test_a_last_window_too_short_to_mean_anything_is_dropped_and_named() -> None:
    bars = index(10000)
    folds = fold_windows(bars, WalkForwardSpec(train=4000, test=2900))
    assert [f.test for f in folds] == [(4000, 6900), (6900, 9800)]  # 200 bars left: 7%
    warning = untested_tail(bars, folds)
    assert warning is not None
    assert warning.startswith(f"walk-forward leaves 200 bars untested, {bars[9800]:%Y-%m-%d}")


def test_windows_that_fit_no_fold_fail_the_run_before_its_search() -> None:
    batches: list[object] = []
    too_long = spec("synthetic:gbm?bars=3000&freq=1h&seed=3", train="3y", test="1y")
    with pytest.raises(InputError, match="no fold fits in 3000 bars"):
        run_optimization(too_long, workers=1, on_batch=batches.append)
    assert batches == []  # not one batch evaluated, and so none lost


def test_bad_windows_are_rejected() -> None:
    with pytest.raises(ValueError, match=r"duration like 3y"):
        WalkForwardSpec(train="3 years", test="1y")
    with pytest.raises(ValueError, match=r"walkForward\.select: must be one of"):
        spec("synthetic:walk", select="sortino_ratio")


def test_changing_later_data_does_not_change_a_folds_choice() -> None:
    run = spec("synthetic:walk?bars=9000&seed=2&reversion=0.1")
    frame = synthesize_ohlcv(run.backtest.data.source)
    fold = fold_windows(frame.index, run.walk_forward)[0]  # type: ignore[arg-type]
    altered = frame.copy()
    later = altered.index[fold.train[1] :]
    altered.loc[later, ["open", "high", "low", "close"]] *= np.linspace(1, 1.3, len(later))[:, None]
    chosen = []
    for bars in (frame, altered):
        data = MarketData.from_frame(bars, pip_size=1e-4, tick_size=1e-5)
        chosen.append(run_fold(run, Backtester(run.backtest, data), fold).result)
    assert chosen[0].parameters == chosen[1].parameters
    assert chosen[0].in_sample == chosen[1].in_sample
    assert chosen[0].out_of_sample != chosen[1].out_of_sample  # the test window did change


def test_same_seed_same_folds() -> None:
    run = spec("synthetic:walk?bars=9000&seed=2")
    first = run_optimization(run, workers=2).status.walk_forward
    second = run_optimization(run, workers=1).status.walk_forward
    assert first == second and first is not None and len(first.folds) == 3
    assert [f.partial for f in first.folds] == [None, None, True]  # 8000-9000 tested too
    data = synthesize_ohlcv("synthetic:walk?bars=9000&seed=2")["close"].to_numpy()
    for fold, (start, end) in zip(
        first.folds, [(4000, 6000), (6000, 8000), (8000, 9000)], strict=True
    ):
        assert fold.benchmark is not None  # buy-and-hold of the fold's own test window
        assert fold.benchmark["total_return"] == pytest.approx(
            100 * (data[end - 1] / data[start] - 1)
        )


def wide_random_search(source: str, seed: int = 5) -> OptimizationRunSpec:
    return OptimizationRunSpec.model_validate(
        {
            "seed": seed,
            "backtest": {
                "data": {"source": source},
                "leverage": 10,
                "strategy": {"name": "rsi_reversion"},
            },
            "parameters": [
                {"name": "stop_loss", "min": 5, "max": 150},
                {"name": "take_profit", "min": 5, "max": 300},
                {"name": "rsi_threshold", "min": 5, "max": 45},
                {"name": "rsi_period", "type": "int", "min": 2, "max": 50},
            ],
            "objectives": [{"name": "sharpe_ratio"}],
            "algorithm": {"name": "random", "random": {"samples": 100}},
        }
    )


def test_luck_is_not_called_significant() -> None:
    """The examples' market has no edge for this strategy once costs are paid: the best of
    a wide search must not pass the deflated Sharpe test. (PBO is low here, rightly: with
    costs, trading less is a real and persistent advantage, so the in-sample ranking holds
    out of sample even though no configuration makes money.)"""
    run = wide_random_search("synthetic:gbm?bars=62000&freq=1h&seed=7").model_dump(
        by_alias=True, exclude_none=True
    )
    run["backtest"]["costs"] = {"commission": 0.00002, "spread": 0.6}
    diagnostics = run_optimization(OptimizationRunSpec.model_validate(run)).status.diagnostics
    assert diagnostics is not None and diagnostics.pbo is not None
    assert diagnostics.deflated_sharpe < 0.5, "luck must not look significant"
    assert diagnostics.trials == 100 and diagnostics.pbo_configurations == 100


def test_noise_and_edge_are_told_apart_across_seeds() -> None:
    def pbo(source: str) -> float:
        diagnostics = run_optimization(wide_random_search(source)).status.diagnostics
        assert diagnostics is not None and diagnostics.pbo is not None
        return diagnostics.pbo

    noise = [pbo(f"synthetic:walk?bars=6000&seed={seed}") for seed in range(1, 5)]
    edge = [pbo(f"synthetic:walk?bars=6000&seed={seed}&reversion=0.15") for seed in range(1, 5)]
    assert max(edge) < 0.1
    assert np.mean(noise) > np.mean(edge) + 0.2


def test_planted_edge_survives_out_of_sample() -> None:
    status = run_optimization(spec("synthetic:walk?bars=14000&seed=8&reversion=0.15")).status
    assert status.walk_forward is not None and status.diagnostics is not None
    summary = status.walk_forward.summary
    assert summary.metrics["sharpe_ratio"] > 1.0 and summary.metrics["net_profit"] > 0
    winners = sum(f.out_of_sample["net_profit"] > 0 for f in status.walk_forward.folds)
    assert winners > len(status.walk_forward.folds) / 2
    assert summary.efficiency > 0.3
    assert status.diagnostics.pbo is not None and status.diagnostics.pbo < 0.3
    assert set(summary.parameter_stability) == {"stop_loss", "take_profit", "rsi_threshold"}
