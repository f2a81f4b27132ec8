"""Honest fronts: solutions equal in every objective are one row that counts them,
configurations that never trade are not offered while others do, picks make money, and
what makes a solution hard to trust is said."""

from __future__ import annotations

import itertools
from typing import Any

from stratopt.api.v1alpha1 import OptimizationRunSpec
from stratopt.optimize import Evaluation, summarize

SPEC: dict[str, Any] = {
    "backtest": {"data": {"source": "synthetic:gbm"}, "strategy": {"name": "rsi_reversion"}},
    "parameters": [{"name": "stop_loss", "min": 1, "max": 100}],
    "objectives": ["net_profit", "max_drawdown"],
    "algorithm": {"name": "random"},
}


def evaluation(stop: float, profit: float, drawdown: float, trades: int = 40) -> Evaluation:
    metrics = {"net_profit": profit, "max_drawdown": drawdown, "num_trades": float(trades)}
    return Evaluation({"stop_loss": stop}, metrics)


def front(evaluations: list[Evaluation], **spec: Any) -> Any:
    parsed = OptimizationRunSpec.model_validate({**SPEC, **spec})
    return summarize(parsed, evaluations, planned=len(evaluations), batches=1)


def test_equal_objectives_collapse_into_one_counted_row() -> None:
    status = front(
        [
            evaluation(10, 100.0, 5.0),
            evaluation(11, 100.0000001, 5.0000001),  # equal to six significant digits
            evaluation(12, 100.0, 5.0),
            evaluation(30, 200.0, 9.0),
        ]
    )
    assert status.pareto_front_size == 2
    counts = sorted((round(s.objectives["net_profit"]), s.count) for s in status.pareto_front)
    assert counts == [(100, 3), (200, 1)]
    assert [s.rank for s in status.pareto_front] == [1, 2]


def test_configurations_that_never_trade_are_not_offered_unless_asked() -> None:
    idle = evaluation(99, 0.0, 0.0, trades=0)  # Pareto-optimal: no loss, no drawdown
    active = [evaluation(10, 100.0, 5.0), evaluation(20, -50.0, 8.0)]
    status = front([idle, *active])
    assert [s.parameters["stop_loss"] for s in status.pareto_front] == [10]
    assert status.best is not None and status.best.parameters["stop_loss"] == 10
    everything = front([idle, *active], minTrades=0)
    assert {s.parameters["stop_loss"] for s in everything.pareto_front} == {10, 99}
    alone = front([idle])  # nothing trades: offered, and the run says so
    assert alone.pareto_front and alone.warnings[0].startswith("no evaluation traded")


def test_the_conservative_pick_is_the_least_drawdown_that_makes_money() -> None:
    status = front(
        [
            evaluation(10, -347.0, 1.0),  # the least drawdown of all, but it loses
            evaluation(20, 1400.0, 2.7),
            evaluation(30, 6200.0, 13.0),
        ]
    )
    assert status.picks is not None and status.picks.conservative is not None
    assert status.picks.conservative.parameters["stop_loss"] == 20
    assert status.picks.note is None
    assert not any("makes money" in w for w in status.warnings)
    losing = next(s for s in status.pareto_front if s.parameters["stop_loss"] == 10)
    assert losing.flags[0] == "loses money: net_profit -347.00"


def test_a_front_that_loses_everywhere_says_so() -> None:
    status = front([evaluation(10, -5362.0, 1.0), evaluation(20, -3453.0, 2.0)])
    assert status.picks is not None and status.picks.conservative is not None
    assert status.picks.note == "no solution on the front makes money"
    assert status.picks.conservative.parameters["stop_loss"] == 10
    assert any(
        w.startswith("no solution on the front makes money (the most profitable nets -3,453.00)")
        for w in status.warnings
    )


def test_a_best_on_a_bound_of_its_range_is_flagged_with_the_bound() -> None:
    on_bound = front([evaluation(100, 500.0, 2.0), evaluation(40, 100.0, 3.0)])
    assert on_bound.best is not None
    assert on_bound.best.flags == [
        "stop_loss = 100 sits on the upper bound of its range (100): widen the range past "
        "100 where the parameter allows, else distrust a best that the edge of its range "
        "produced"
    ]
    assert "best: stop_loss = 100 sits on the upper bound" in " ".join(on_bound.warnings)
    inside = front([evaluation(50, 500.0, 2.0)])
    assert inside.best is not None and inside.best.flags == []
    assert not any("bound" in w for w in inside.warnings)


def test_a_pick_resting_on_too_few_trades_is_flagged() -> None:
    status = front([evaluation(50, 90.0, 1.0, trades=1)])  # nothing reaches minTrades
    assert status.best is not None
    assert status.best.flags == ["rests on 1 trade: fewer than 30 cannot tell skill from luck"]
    assert any(
        w.startswith("best: rests on 1 trade: fewer than 30, its metrics") for w in status.warnings
    )


def straight_front(members: int) -> list[Evaluation]:
    """A front of ``members`` points where profit and drawdown rise together."""
    return [evaluation(1 + i * 0.1, 10.0 * i, 1.0 + i) for i in range(members)]


def test_a_large_front_keeps_a_spread_of_members_with_both_ends_and_rank_one() -> None:
    status = front(straight_front(300))
    assert status.pareto_front_size == 300
    kept = status.pareto_front
    assert len(kept) == 100
    assert [s.rank for s in kept] == sorted(s.rank or 0 for s in kept)
    assert kept[0].rank == 1
    profits = sorted(s.objectives["net_profit"] for s in kept[1:])
    assert (profits[0], profits[-1]) == (0.0, 2990.0)
    # The 99 besides rank 1 evenly spaced: no gap over 1.5 even steps, none a crowd.
    gaps = [b - a for a, b in itertools.pairwise(profits)]
    even = 2990.0 / 98
    assert max(gaps) <= 1.5 * even and min(gaps) >= even / 2, (min(gaps), max(gaps))


def test_the_front_table_fits_80_columns_with_every_name_whole(
    monkeypatch: Any, capsys: Any
) -> None:
    from stratopt.output import print_optimization

    spec = OptimizationRunSpec.model_validate(
        {
            **SPEC,
            "parameters": [
                {"name": "stop_loss", "min": 1, "max": 100},
                {"name": "take_profit", "min": 1, "max": 100},
                {"name": "position_size", "min": 0.01, "max": 0.05},
            ],
            "objectives": ["net_profit", "max_drawdown", "sharpe_ratio"],
        }
    )
    evaluations = [
        Evaluation(
            {"stop_loss": 60 + i / 7, "take_profit": 47 + i / 9, "position_size": 0.01 + i / 1e4},
            {
                "net_profit": 1234.5678 * i,
                "max_drawdown": 2.0 + i / 3,
                "sharpe_ratio": 0.1 + i / 1e3 * (-1) ** i,
                "num_trades": 40.0,
            },
        )
        for i in range(60)
    ]
    status = summarize(spec, evaluations, planned=60, batches=1)
    monkeypatch.setenv("COLUMNS", "80")
    print_optimization(spec, status)
    printed = capsys.readouterr().out
    assert max(len(line) for line in printed.splitlines()) <= 80
    assert "…" not in printed
    for name in ("stop_", "loss", "take_", "position_", "max_", "drawdown", "sharpe_"):
        assert name in printed, name
    assert f"20 of {status.pareto_front_size}, spread along net_profit" in printed
    assert "72,840" in printed  # 1234.5678 × 59 = 72,839.5: whole and grouped
    assert "every evaluation: --out DIR writes evaluations.csv" in printed


def test_numbers_in_tables_keep_four_digits_and_name_what_is_not_finite() -> None:
    from stratopt.output import _number

    assert [_number(v) for v in (0.0239364, 3196.64, -347.2, 40.0, 1e6)] == [
        "0.02394",
        "3,197",
        "-347.2",
        "40",
        "1,000,000",
    ]
    assert [_number(v) for v in (float("inf"), float("-inf"), float("nan"))] == [
        "inf",
        "-inf",
        "nan",
    ]


def test_selection_weights_choose_best_and_name_a_wrong_field() -> None:
    import pytest
    from pydantic import ValidationError

    evaluations = [evaluation(10, 100.0, 2.0), evaluation(20, 180.0, 5.0), evaluation(30, 300, 20)]
    assert front(evaluations).best.parameters == {"stop_loss": 20}
    minds_profit = front(evaluations, selection={"weights": {"net_profit": 4}})
    assert minds_profit.best.parameters == {"stop_loss": 30}
    minds_drawdown = front(evaluations, selection={"weights": {"net_profit": 0.1}})
    assert minds_drawdown.best.parameters == {"stop_loss": 10}
    assert [s.rank for s in minds_profit.pareto_front] == [1, 2, 3]
    for weights, message in [
        ({"sharpe_ratio": 1}, "selection.weights.sharpe_ratio: not an objective"),
        ({"net_profit": -1}, "selection.weights.net_profit: must be a finite number"),
        ({"net_profit": 0, "max_drawdown": 0}, "at least one objective must weigh more"),
    ]:
        with pytest.raises(ValidationError, match=message):
            front(evaluations, selection={"weights": weights})


def test_nsga2_keeps_its_population_distinct_in_objective_space() -> None:
    """A parameter that changes nothing (``ignored``) and objectives that move in steps
    of 0.1 give many parameter sets per objective vector; survival keeps one of each."""
    from stratopt.optimize.algorithms.nsga2 import Nsga2Driver

    spec = OptimizationRunSpec.model_validate(
        {
            **SPEC,
            "parameters": [
                {"name": "stop_loss", "min": 0, "max": 10},
                {"name": "ignored", "min": 0, "max": 1},
            ],
            "algorithm": {"name": "nsga2", "nsga2": {"populationSize": 20, "generations": 15}},
        }
    )
    driver = Nsga2Driver(spec)
    while batch := driver.ask():
        steps = [round(p["stop_loss"], 1) for p in batch]
        driver.tell([{"net_profit": s, "max_drawdown": s, "num_trades": 10.0} for s in steps])
    final = driver.algorithm.pop.get("F")
    assert len({tuple(row) for row in final}) == 20
