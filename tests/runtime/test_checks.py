"""A run checks its own strategy before trusting it: look-ahead fails the run before its
search, a warm-up shorter than the signals need is a warning, and honest strategies pass."""

from __future__ import annotations

from typing import Any

import pytest

from stratopt.api.v1alpha1 import OptimizationRunSpec
from stratopt.backtest import Backtester
from stratopt.runtime import run_optimization
from stratopt.runtime.checks import LookAheadError, probe_parameter_sets, probe_strategy

DATA = "synthetic:gbm?bars=4000&freq=1h&seed=3"


def spec(strategy: str, parameters: list[dict[str, Any]], **changes: Any) -> OptimizationRunSpec:
    return OptimizationRunSpec.model_validate(
        {
            "seed": 5,
            "backtest": {"data": {"source": DATA}, "strategy": {"name": strategy}},
            "parameters": parameters,
            "objectives": ["net_profit"],
            "algorithm": {"name": "random", "random": {"samples": 4}},
            "minTrades": 0,
            **changes,
        }
    )


def probe(run: OptimizationRunSpec) -> list[str]:
    backtester = Backtester(run.backtest)
    return probe_strategy(backtester, probe_parameter_sets(run, backtester))


def test_a_strategy_that_reads_the_next_bar_fails_the_run_before_its_search() -> None:
    run = spec(
        "tests.user_strategies.dishonest:PeeksAhead",
        [{"name": "lookback", "type": "int", "min": 2, "max": 9}],
    )
    batches: list[object] = []
    with pytest.raises(LookAheadError) as caught:
        run_optimization(run, workers=1, on_batch=batches.append)
    assert batches == [], "not one batch evaluated"
    error = caught.value
    assert error.reason == "LookAhead" and error.field == "spec.backtest.strategy.name"
    assert error.message.startswith(
        "strategy `tests.user_strategies.dishonest:PeeksAhead` looks ahead: with lookback=5, "
        "its long_entry on bar "
    )
    assert "changed when the bars from" in error.message


@pytest.mark.parametrize(
    ("strategy", "parameters"),
    [
        ("rsi_reversion", [{"name": "rsi_period", "type": "int", "min": 2, "max": 60}]),
        ("ema_crossover", [{"name": "slow_period", "type": "int", "min": 30, "max": 300}]),
        ("donchian_breakout", [{"name": "channel", "type": "int", "min": 5, "max": 200}]),
        (
            "tests.user_strategies.momentum:Momentum",
            [{"name": "lookback", "type": "int", "min": 2, "max": 300}],
        ),
    ],
)
def test_honest_strategies_pass_both_probes(
    strategy: str, parameters: list[dict[str, Any]]
) -> None:
    assert probe(spec(strategy, parameters)) == []


def test_a_warm_up_shorter_than_the_signals_need_is_a_warning_naming_the_bars() -> None:
    run = spec(
        "tests.user_strategies.dishonest:LongMemory",
        [{"name": "lookback", "type": "int", "min": 100, "max": 101}],
        backtest={
            "data": {"source": DATA},
            "strategy": {"name": "tests.user_strategies.dishonest:LongMemory"},
        },
    )
    (warning,) = probe(run)
    assert warning.startswith(
        "strategy `tests.user_strategies.dishonest:LongMemory`: warmup() declares 5 bars with "
        "lookback=100, but its signals depend on about "
    )
    needed = int(warning.split("depend on about ")[1].split(":")[0])
    assert 95 <= needed <= 101, warning
    status = run_optimization(run, workers=1).status
    assert status.warnings[0] == warning, "the warning reaches the run's status"
