"""Search spaces: decoding, grids, unit-cube sampling, and checks against the strategy."""

from __future__ import annotations

import numpy as np
import pytest

from stratopt.api import SpecError
from stratopt.api.v1alpha1 import ParameterRange
from stratopt.backtest.strategies import get_strategy
from stratopt.optimize import SearchSpace, check_space_against_strategy


def ranges(*items: dict[str, object]) -> list[ParameterRange]:
    return [ParameterRange.model_validate(item) for item in items]


def test_grid_uses_steps_and_counts_527() -> None:
    space = SearchSpace(
        ranges(
            {"name": "stop_loss", "min": 20, "max": 80, "step": 2},
            {"name": "take_profit", "min": 40, "max": 200, "step": 10},
        )
    )
    grid = space.grid(10)
    assert len(grid) == 31 * 17
    assert grid[0] == {"stop_loss": 20.0, "take_profit": 40.0}
    assert grid[-1] == {"stop_loss": 80.0, "take_profit": 200.0}


def test_decode_rounds_snaps_and_clips() -> None:
    space = SearchSpace(
        ranges(
            {"name": "rsi_period", "type": "int", "min": 5, "max": 30},
            {"name": "stop_loss", "min": 20, "max": 80, "step": 5},
            {"name": "position_size", "min": 0.001, "max": 0.1, "log": True},
            {"name": "rsi_threshold", "type": "categorical", "values": [20, 25, 30]},
        )
    )
    decoded = space.decode([12.6, 41.0, np.log(0.01), 1.7])
    assert decoded == {
        "rsi_period": 13.0,
        "stop_loss": 40.0,
        "position_size": pytest.approx(0.01),
        "rsi_threshold": 30.0,
    }
    assert space.decode(space.encode(decoded)) == decoded
    assert space.decode([99, 999, 0.0, 7])["rsi_period"] == 30.0


def test_unit_sampling_covers_integer_choices_evenly() -> None:
    space = SearchSpace(ranges({"name": "rsi_period", "type": "int", "min": 1, "max": 4}))
    unit = np.linspace(0, 1, 4000, endpoint=False).reshape(-1, 1)
    counts = np.unique([p["rsi_period"] for p in space.from_unit(unit)], return_counts=True)
    assert list(counts[0]) == [1, 2, 3, 4] and set(counts[1]) == {1000}


def test_space_checked_against_strategy() -> None:
    strategy = get_strategy("rsi_reversion")
    check_space_against_strategy(
        ranges({"name": "rsi_period", "type": "int", "min": 5, "max": 30}), strategy
    )
    with pytest.raises(SpecError) as caught:
        check_space_against_strategy(
            ranges(
                {"name": "stoploss", "min": 1, "max": 2},
                {"name": "rsi_period", "type": "int", "min": 1, "max": 30},
                {"name": "rsi_period", "type": "float", "min": 5, "max": 30},
            ),
            strategy,
        )
    problems = dict(caught.value.problems)
    assert "not a parameter of strategy" in problems["spec.parameters[0].name"]
    assert "must stay within [2, 200]" in problems["spec.parameters[1]"]
    assert "use type: int" in problems["spec.parameters[2].type"]
