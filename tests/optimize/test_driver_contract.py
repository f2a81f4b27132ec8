"""One contract, every driver: the ask/tell protocol, determinism, and replay.

A driver's state must be a pure function of the spec and the results told so far:
rebuilding it from stored batches (at any point) and carrying on must give exactly the
uninterrupted run. This is what makes restarts and cluster runs safe.
"""

from __future__ import annotations

import pytest

from stratopt.backtest import Backtester
from stratopt.optimize import DRIVERS, Driver, Evaluation, ReplayMismatchError
from stratopt.runtime import run_optimization
from tests.optimize.conftest import ALGORITHMS, small_spec

ALL = sorted(ALGORITHMS)
assert set(ALL) == set(DRIVERS), "every registered driver must be in the contract suite"


def drive(driver: Driver, backtester: Backtester, stop_after: int | None = None) -> Driver:
    while stop_after is None or len(driver.history) < stop_after:
        batch = driver.ask()
        if not batch:
            break
        driver.tell([backtester.evaluate(p) for p in batch])
    return driver


@pytest.fixture(scope="module")
def backtester() -> Backtester:
    return Backtester(small_spec("grid").backtest)


@pytest.mark.parametrize("name", ALL)
def test_ask_tell_protocol(name: str, backtester: Backtester) -> None:
    driver = DRIVERS[name](small_spec(name))
    with pytest.raises(RuntimeError, match="call ask"):
        driver.tell([])
    batch = driver.ask()
    assert batch and all(set(p) == {"rsi_period", "stop_loss", "take_profit"} for p in batch)
    assert all(
        5 <= p["rsi_period"] <= 30 and p["rsi_period"] == int(p["rsi_period"]) for p in batch
    )
    with pytest.raises(RuntimeError, match="ask\\(\\) called twice"):
        driver.ask()
    with pytest.raises(ValueError, match="results for a batch of"):
        driver.tell([{}])
    driver.tell([backtester.evaluate(p) for p in batch])
    drive(driver, backtester)
    assert driver.done and driver.ask() == []
    assert 0 < len(driver.evaluations) <= driver.planned_evaluations


@pytest.mark.parametrize("name", ALL)
def test_same_seed_same_results(name: str, backtester: Backtester) -> None:
    first = drive(DRIVERS[name](small_spec(name, seed=3)), backtester).evaluations
    second = drive(DRIVERS[name](small_spec(name, seed=3)), backtester).evaluations
    assert first == second
    if name != "grid":
        other = drive(DRIVERS[name](small_spec(name, seed=4)), backtester).evaluations
        assert [e.parameters for e in other] != [e.parameters for e in first]


@pytest.mark.parametrize("name", ALL)
def test_replay_at_every_batch_equals_uninterrupted(name: str, backtester: Backtester) -> None:
    spec = small_spec(name)
    live = drive(DRIVERS[name](spec), backtester)
    for cut in range(len(live.history) + 1):
        resumed = DRIVERS[name].resumed(spec, live.history[:cut])
        assert len(resumed.history) == cut
        drive(resumed, backtester)
        assert resumed.evaluations == live.evaluations, f"diverged after resuming at {cut}"


@pytest.mark.parametrize("name", ["nsga2", "random"])
def test_replay_refuses_results_of_another_spec(name: str, backtester: Backtester) -> None:
    live = drive(DRIVERS[name](small_spec(name, seed=1)), backtester)
    with pytest.raises(ReplayMismatchError, match="batch 0"):
        DRIVERS[name].resumed(small_spec(name, seed=2), live.history)


@pytest.mark.parametrize("name", ALL)
def test_worker_count_does_not_change_results(name: str) -> None:
    spec = small_spec(name)
    one = run_optimization(spec, workers=1)
    two = run_optimization(spec, workers=2)
    assert one.evaluations == two.evaluations
    assert one.status == two.status


@pytest.mark.parametrize("name", ["nsga2", "random", "grid"])
def test_constraints_are_respected(name: str) -> None:
    spec = small_spec(name, constraints=["num_trades >= 60", "max_drawdown <= 30"])
    outcome = run_optimization(spec, workers=1)
    assert outcome.status.pareto_front, "expected feasible solutions"
    for solution in outcome.status.pareto_front:
        assert solution.metrics["num_trades"] >= 60 and solution.metrics["max_drawdown"] <= 30
    violators = [e for e in outcome.evaluations if e.metrics["num_trades"] < 60]
    assert violators, "the constraint should bind somewhere, or this test proves nothing"


def test_front_is_non_dominated_and_ranked() -> None:
    spec = small_spec("random")
    status = run_optimization(spec, workers=1).status
    front = status.pareto_front
    assert len(front) == status.pareto_front_size >= 2
    assert [s.rank for s in front] == list(range(1, len(front) + 1))
    for a in front:
        for b in front:
            dominates = (
                a.metrics["net_profit"] >= b.metrics["net_profit"]
                and a.metrics["max_drawdown"] <= b.metrics["max_drawdown"]
                and (
                    a.metrics["net_profit"] > b.metrics["net_profit"]
                    or a.metrics["max_drawdown"] < b.metrics["max_drawdown"]
                )
            )
            assert not dominates
    assert status.best == front[0] and status.picks is not None
    assert status.picks.conservative.metrics["max_drawdown"] == min(
        s.metrics["max_drawdown"] for s in front
    )
    assert status.picks.aggressive.metrics["net_profit"] == max(
        s.metrics["net_profit"] for s in front
    )


def test_single_objective_status() -> None:
    outcome = run_optimization(small_spec("bayesian"), workers=1)
    status = outcome.status
    assert status.iterations_completed == 9 and status.best_parameters is not None
    assert status.best_objective_value == max(
        e.metrics["sharpe_ratio"] for e in outcome.evaluations
    )
    assert len(status.progress.history) == 5  # batches of 2: 2+2+2+2+1


def test_evaluation_is_a_value_object() -> None:
    assert Evaluation({"a": 1.0}, {"m": 2.0}) == Evaluation({"a": 1.0}, {"m": 2.0})


@pytest.mark.parametrize("name", ALL)
def test_both_ends_of_an_integer_range_are_drawn_at_the_uniform_rate(name: str) -> None:
    """Rounding a uniform draw over [min, max] gives each end a cell of half a unit, so
    the ends come up half as often as the values between them; every value of the
    range must own an equal share of the driver's first batch."""
    values = [5.0, 6.0, 7.0, 8.0]
    parameters = [
        {"name": "rsi_period", "type": "int", "min": 5, "max": 8},
        {"name": "stop_loss", "type": "float", "min": 10, "max": 80},
    ]
    drawn: list[float] = []
    seed = 0
    while len(drawn) < 1600:
        seed += 1
        drawn += [
            p["rsi_period"]
            for p in DRIVERS[name](small_spec(name, seed, parameters=parameters)).ask()
        ]
    shares = {v: drawn.count(v) / len(drawn) for v in values}
    assert set(drawn) == set(values)
    # Half-rate ends would hold 1/6 each; four standard errors of 1/4 are ±0.044.
    for value, share in shares.items():
        assert abs(share - 0.25) < 0.045, f"{value:g} drawn at {share:.3f}, not 0.25: {shares}"
