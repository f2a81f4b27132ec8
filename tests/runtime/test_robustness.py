"""Each pick is re-run under one more tick of slippage and at neighbouring parameters,
and its profit from fills at a bar's extreme is measured: planted cases warn, clean ones
do not."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from stratopt.api.v1alpha1 import BacktestSpec, Goal, OptimizationRunSpec, ParameterRange
from stratopt.api.v1alpha1.optimization import Robustness
from stratopt.backtest import Backtester
from stratopt.data import MarketData, synthesize_ohlcv
from stratopt.runtime import run_optimization
from stratopt.runtime.robustness import (
    extreme_fills,
    neighbours,
    robustness_warnings,
    with_one_more_tick,
)


def index_like(share_at_extreme: float, seed: int = 4) -> MarketData:
    """Daily index bars where ``share_at_extreme`` of the bars open at their low or their
    high (half each), as many index bars do."""
    frame = synthesize_ohlcv(f"synthetic:gbm?bars=3000&freq=1d&seed={seed}&price=2000&decimals=2")
    # Synthetic bars open at the previous close, often their extreme too: none do here
    # but the chosen ones.
    extreme = (frame["open"] == frame["low"]) | (frame["open"] == frame["high"])
    frame.loc[extreme, "open"] = (frame["low"] + frame["high"])[extreme] / 2
    rng = np.random.default_rng(seed)
    chosen = rng.random(len(frame)) < share_at_extreme
    at_low = chosen & (rng.random(len(frame)) < 0.5)
    frame.loc[at_low, "open"] = frame.loc[at_low, "low"]
    frame.loc[chosen & ~at_low, "open"] = frame.loc[chosen & ~at_low, "high"]
    return MarketData.from_frame(frame, pip_size=1.0, tick_size=0.01)


def backtester(data: MarketData, **changes: Any) -> Backtester:
    spec = BacktestSpec.model_validate(
        {
            "data": {"source": "synthetic:", "pipSize": 1, "tickSize": 0.01},
            "strategy": {
                "name": "ema_crossover",
                "parameters": {"fast_period": 5, "slow_period": 20},
            },
            "stopUnit": "percent",
            "capital": 100000,
            **changes,
        }
    )
    return Backtester(spec, data)


def test_profit_from_stops_tighter_than_a_bar_on_bars_that_open_at_their_extreme() -> None:
    planted = backtester(index_like(0.3))
    tiny_stop = {"stop_loss": 0.0015, "take_profit": 0, "position_size": 1}
    profit, trades = extreme_fills(planted, tiny_stop)
    assert profit > 0.9, profit  # the trades that survive their entry bar opened at its extreme
    assert trades > 0.9, trades
    clean = backtester(index_like(0.0))
    assert extreme_fills(clean, tiny_stop) == (0, 0), "no bar opens at its extreme"
    # Wide stops: an entry at the bar's low is a good fill, not what the trade rests on.
    assert extreme_fills(planted, {**tiny_stop, "stop_loss": 50}) == (0, 0)


def test_one_more_tick_costs_every_fill_a_tick() -> None:
    bt = backtester(index_like(0.0))
    harsher, tick = with_one_more_tick(bt)
    assert tick == pytest.approx(0.01)
    params = {"stop_loss": 5, "take_profit": 0, "position_size": 0.5}
    own, worse = bt.evaluate(params), harsher.evaluate(params)
    assert worse["num_trades"] == own["num_trades"] > 0
    assert worse["net_profit"] < own["net_profit"]


def test_neighbours_move_one_parameter_one_step_within_its_range() -> None:
    ranges = [
        ParameterRange(name="slow_period", type="int", min=10, max=50),
        ParameterRange(name="stop_loss", min=0, max=100),
        ParameterRange(name="take_profit", min=0, max=10, step=2),
        ParameterRange(name="position_size", type="categorical", values=[0.1, 0.2]),
    ]
    base = {"slow_period": 50.0, "stop_loss": 40.0, "take_profit": 4.0, "position_size": 0.1}
    found = neighbours(ranges, base)
    moved = [(k, v) for n in found for k, v in n.items() if v != base[k]]
    assert moved == [
        ("slow_period", 49.0),  # one whole step down; up is past the bound
        ("stop_loss", 37.5),  # 2.5% of the range
        ("stop_loss", 42.5),
        ("take_profit", 2.0),  # the range's own step
        ("take_profit", 6.0),
    ]
    assert len(found) == 5, "each neighbour moves one parameter"


def robustness(value: float, median: float, friction_profit: float, share: float) -> Robustness:
    """A measured robustness whose extreme fills carry ``share`` of profit and trades."""
    return Robustness(
        parameters={"stop_loss": 30.0},
        extra_slippage=0.1,
        friction={"net_profit": friction_profit},
        objective="net_profit",
        value=value,
        neighbours=2,
        neighbourhood_median=median,
        neighbourhood_worst=median - 10,
        extreme_fill_profit_share=share,
        extreme_fill_trade_share=share,
    )


def test_a_fragile_pick_is_named_with_what_to_change() -> None:
    fragile = robustness(1000.0, 100.0, 200.0, 0.8)
    found = robustness_warnings(
        "aggressive pick (stop_loss=30)", fragile, {"net_profit": 1000.0}, Goal.MAXIMIZE
    )
    assert len(found) == 3
    friction, cliff, extreme = found
    assert friction.startswith(
        "aggressive pick (stop_loss=30): one more tick of slippage per fill takes its net "
        "profit from 1,000.00 to 200.00"
    )
    assert "a cliff, not a plateau" in cliff and "median of 100" in cliff
    assert "80% of its net profit comes from the 80% of its trades that survived" in extreme
    assert "fill: close" in extreme


def test_a_sturdy_pick_is_not_flagged() -> None:
    sturdy = robustness(1000.0, 900.0, 950.0, 0.1)
    assert robustness_warnings("balanced pick", sturdy, {"net_profit": 1000.0}, Goal.MAXIMIZE) == []
    drawdown = robustness(5.0, 6.0, 950.0, 0.1)  # minimized: a little worse nearby is fine
    assert (
        robustness_warnings("conservative pick", drawdown, {"net_profit": 1000.0}, Goal.MINIMIZE)
        == []
    )


def test_every_pick_of_a_run_gets_its_robustness_in_status() -> None:
    spec = OptimizationRunSpec.model_validate(
        {
            "seed": 1,
            "backtest": {
                "data": {"source": "synthetic:gbm?bars=3000&freq=1h&seed=7&reversion=0.05"},
                "strategy": {"name": "rsi_reversion"},
                "leverage": 10,
            },
            "parameters": [
                {"name": "stop_loss", "min": 20, "max": 80},
                {"name": "take_profit", "min": 20, "max": 120},
            ],
            "objectives": ["net_profit", "max_drawdown"],
            "algorithm": {"name": "random", "random": {"samples": 30}},
        }
    )
    status = run_optimization(spec, workers=1).status
    assert status.picks is not None and status.best is not None
    assert set(status.robustness) == {"conservative", "balanced", "aggressive"}
    balanced = status.robustness["balanced"]
    assert balanced.parameters == status.best.parameters
    assert balanced.value == status.best.metrics["net_profit"]
    assert balanced.neighbours == 4
    assert balanced.friction["net_profit"] < balanced.value
