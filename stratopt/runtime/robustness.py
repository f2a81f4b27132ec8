"""How each pick holds up: one more tick of slippage, neighbouring parameters, and how
much of its profit comes from fills at a bar's extreme.

A backtest's best is the luckiest point of a noisy surface, measured with exactly the
costs the spec assumed. A pick worth trading keeps most of its profit when fills are a
tick worse, sits on a plateau rather than a peak, and does not earn its profit from
entries at the very low (or high) of a bar, which daily OHLC data makes look possible:
many index bars open at their low, and before about 2006 most opened at the previous
close.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from stratopt.api.v1alpha1 import (
    FillConvention,
    Goal,
    Objective,
    OptimizationRunSpec,
    ParameterRange,
    ParameterType,
    Picks,
    Solution,
    StopUnit,
)
from stratopt.api.v1alpha1.optimization import Robustness
from stratopt.backtest import Backtester
from stratopt.errors import InputError

#: A neighbour moves one parameter by this share of its range (at least one whole step
#: for an integer), when the range gives no step of its own.
NEIGHBOUR_SHARE = 0.025
#: A pick whose net profit falls below this share of its own under one more tick of
#: slippage has an edge smaller than the uncertainty of its costs.
FRICTION_KEEPS = 0.5
#: A neighbourhood whose median objective keeps less than this share of the pick's own
#: is a cliff, not a plateau.
PLATEAU_KEEPS = 0.5
#: Past this share of net profit, made by more than this share of the trades that
#: survived their entry bar, fills at a bar's extreme make the profit an artifact.
EXTREME_SHARE = 0.5


def with_one_more_tick(backtester: Backtester) -> tuple[Backtester, float]:
    """The same backtest with one more tick of slippage on every fill (on the same data,
    so its cached signals are reused), and that tick in pips."""
    spec, data = backtester.spec, backtester.data
    tick = data.tick_size / data.pip_size
    costs = spec.costs.model_copy(update={"slippage": spec.costs.slippage + tick})
    return Backtester(spec.model_copy(update={"costs": costs}), data), tick


def neighbours(
    ranges: Sequence[ParameterRange], parameters: dict[str, float]
) -> list[dict[str, float]]:
    """``parameters`` with each searched parameter moved one small step down and up,
    within its range; categorical parameters stay."""
    found = []
    for searched in ranges:
        if searched.type is ParameterType.CATEGORICAL or searched.name not in parameters:
            continue
        assert searched.min is not None and searched.max is not None
        step = searched.step or (searched.max - searched.min) * NEIGHBOUR_SHARE
        if searched.type is ParameterType.INT:
            step = max(1.0, float(round(step)))
        value = parameters[searched.name]
        for moved in (value - step, value + step):
            moved = min(max(moved, searched.min), searched.max)
            if moved != value:
                found.append({**parameters, searched.name: moved})
    return found


def extreme_fills(backtester: Backtester, parameters: dict[str, float]) -> tuple[float, float]:
    """How much rests on trades that survived their entry bar only because they were
    filled at its extreme: entered at an open equal to the bar's low (long) or high
    (short) with a stop closer than the bar's range, which any other open would likely
    have hit. Returns their share of the net profit (0 without net profit or when they
    lose; above 1 when they make more than all trades together) and their share of the
    trades that survived their entry bar."""
    _, trades = backtester.record(parameters)
    full = backtester.parameters(parameters)
    if (
        not len(trades.pnl)
        or full["stop_loss"] <= 0  # no stop: an entry at the bar's extreme is a good fill
        or backtester.spec.fill is not FillConvention.NEXT_OPEN
    ):
        return 0.0, 0.0
    data = backtester.data
    bars = trades.entry_bar
    opens = data.open[bars]
    if backtester.spec.stop_unit is StopUnit.PERCENT:
        distance = opens * full["stop_loss"] / 100
    else:
        distance = np.full(len(bars), full["stop_loss"] * data.pip_size)
    at_extreme = np.where(trades.long, opens == data.low[bars], opens == data.high[bars])
    lucky = at_extreme & (distance < data.high[bars] - data.low[bars])
    survived = ~((trades.exit_reason == "stop_loss") & (trades.exit_bar == bars))
    total = float(trades.pnl.sum())
    profit = max(0.0, float(trades.pnl[lucky].sum() / total)) if total > 0 else 0.0
    return profit, float(lucky.sum() / max(1, survived.sum()))


def measure(
    backtester: Backtester,
    parameters: dict[str, float],
    metrics: dict[str, float],
    objective: Objective,
    ranges: Sequence[ParameterRange] = (),
) -> Robustness:
    """The robustness of one parameter set whose ``metrics`` are known: one more tick of
    slippage, its neighbours within ``ranges`` judged on ``objective``, extreme fills."""
    values = []
    for neighbour in neighbours(ranges, parameters):
        try:
            values.append(backtester.evaluate(neighbour)[objective.name])
        except InputError:
            continue  # a combination the strategy refuses is no neighbour
    worst = None
    if values:
        worst = min(values) if objective.direction is Goal.MAXIMIZE else max(values)
    costlier, tick = with_one_more_tick(backtester)
    profit_share, trade_share = extreme_fills(backtester, parameters)
    return Robustness(
        parameters=dict(parameters),
        extra_slippage=tick,
        friction=costlier.evaluate(parameters),
        objective=objective.name,
        value=metrics[objective.name],
        neighbours=len(values),
        neighbourhood_median=float(np.median(values)) if values else None,
        neighbourhood_worst=worst,
        extreme_fill_profit_share=profit_share,
        extreme_fill_trade_share=trade_share,
    )


def robustness_warnings(
    who: str, robustness: Robustness, metrics: dict[str, float], goal: Goal
) -> list[str]:
    """What to change about a parameter set that does not hold up; ``who`` names it."""
    found = []
    profit = metrics["net_profit"]
    if profit > 0 and robustness.friction["net_profit"] < FRICTION_KEEPS * profit:
        found.append(
            f"{who}: one more tick of slippage per fill takes its net profit "
            f"from {profit:,.2f} to {robustness.friction['net_profit']:,.2f}; its edge is "
            "within the uncertainty of its costs: set costs to what you really pay, and "
            "prefer a pick that trades less often"
        )
    median, own = robustness.neighbourhood_median, robustness.value
    if median is not None and own > 0:
        cliff = (
            median < PLATEAU_KEEPS * own if goal is Goal.MAXIMIZE else median > own / PLATEAU_KEEPS
        )
        if cliff:
            found.append(
                f"{who}: at neighbouring parameters its {robustness.objective} "
                f"has a median of {median:,.4g} (worst {robustness.neighbourhood_worst:,.4g}) "
                f"against its own {own:,.4g}: a cliff, not a plateau, so a small change loses "
                "most of it; prefer a pick whose neighbours do as well"
            )
    share = robustness.extreme_fill_profit_share
    if profit > 0 and share > EXTREME_SHARE and robustness.extreme_fill_trade_share > EXTREME_SHARE:
        found.append(
            f"{who}: {share:.0%} of its net profit comes from the "
            f"{robustness.extreme_fill_trade_share:.0%} of its trades that survived their "
            "entry bar only because they were filled at its extreme (an open equal to the "
            "bar's low or high, with a stop inside the bar's range), which bars of open, "
            "high, low and close make look possible but no order reliably gets; raise the "
            "floor of the stop_loss range, use stopUnit: percent with a realistic minimum, "
            "or fill: close"
        )
    return found


def pick_robustness(
    spec: OptimizationRunSpec, backtester: Backtester, picks: Picks
) -> tuple[dict[str, Robustness], list[str]]:
    """The robustness of each pick, by the pick's name, and the warnings it gives; a
    parameter set chosen by several picks is measured once."""
    measured: dict[tuple[float, ...], Robustness] = {}
    found: dict[str, Robustness] = {}
    warnings: list[str] = []
    named: list[tuple[str, Solution | None]] = [
        ("balanced", picks.balanced),
        ("conservative", picks.conservative),
        ("aggressive", picks.aggressive),
    ]
    for pick, solution in named:
        if solution is None:
            continue
        key = tuple(solution.parameters.values())
        fresh = key not in measured
        if fresh:
            measured[key] = measure(
                backtester,
                solution.parameters,
                solution.metrics,
                spec.objectives[0],
                spec.parameters,
            )
        found[pick] = measured[key]
        if fresh:
            shown = ", ".join(f"{k}={v:g}" for k, v in solution.parameters.items())
            warnings += robustness_warnings(
                f"{pick} pick ({shown})",
                measured[key],
                solution.metrics,
                spec.objectives[0].direction,
            )
    return found, warnings


def benchmark_warnings(picks: Picks, benchmark: dict[str, float]) -> list[str]:
    """Picks whose risk-adjusted return does not beat holding the instrument."""
    held = benchmark["sharpe_ratio"]
    losers = [
        f"{label} ({solution.metrics['sharpe_ratio']:.3g})"
        for label, solution in (
            ("conservative", picks.conservative),
            ("balanced", picks.balanced),
            ("aggressive", picks.aggressive),
        )
        if solution is not None and solution.metrics["sharpe_ratio"] <= held
    ]
    if not losers:
        return []
    return [
        f"the Sharpe ratio of the {', '.join(losers)} pick"
        f"{'s' if len(losers) > 1 else ''} does not beat buy-and-hold of the same bars "
        f"({held:.3g}, total return {benchmark['total_return']:.3g}%): holding the instrument "
        "did as well for its risk"
    ]
