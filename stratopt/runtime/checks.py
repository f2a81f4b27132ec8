"""The checks a run makes of its own strategy before trusting what it computes.

The strategy's probes run before any search, on a few parameter sets: the spec's fixed
(or default) ones and a seeded sample of the search space. Look-ahead fails the run,
since every result after it would be a silent wrong answer; a short warm-up is a warning.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from stratopt.api.v1alpha1 import Goal, Objective, OptimizationRunSpec
from stratopt.backtest import Backtester
from stratopt.backtest.engine import STRATEGY_FIELD
from stratopt.backtest.metrics import too_few_trades
from stratopt.backtest.probes import find_lookahead, find_short_warmup
from stratopt.errors import InputError
from stratopt.runtime.robustness import measure, robustness_warnings

#: Parameter sets drawn from the search space for the probes, besides the spec's own.
PROBE_SAMPLES = 2
#: Draws allowed to find those samples among invalid combinations.
PROBE_DRAWS = 20


class LookAheadError(InputError):
    """A strategy whose signals read bars after the one they decide on."""

    reason = "LookAhead"


def probe_parameter_sets(
    spec: OptimizationRunSpec | None, backtester: Backtester
) -> list[dict[str, float]]:
    """The spec's own parameter set and a seeded sample of its search space, each one
    the strategy accepts (a search skips a combination the strategy refuses)."""
    chosen = [dict(backtester.base_parameters)]
    if spec is None:
        return _valid(backtester, chosen)
    from stratopt.optimize.space import SearchSpace  # a single backtest needs no search

    space = SearchSpace(spec.parameters)
    rng = np.random.default_rng(spec.seed)
    candidates = [
        {**backtester.base_parameters, **space.decode(rng.uniform(space.lower, space.upper))}
        for _ in range(PROBE_DRAWS)
    ]
    return _valid(backtester, chosen) + _valid(backtester, candidates)[:PROBE_SAMPLES]


def _valid(backtester: Backtester, sets: Sequence[dict[str, float]]) -> list[dict[str, float]]:
    valid = []
    for params in sets:
        try:
            backtester.signals(backtester.parameters(params))
        except InputError:
            continue
        valid.append(params)
    return valid


def probe_strategy(backtester: Backtester, parameter_sets: Sequence[dict[str, float]]) -> list[str]:
    """Warnings about the strategy's warm-up.

    Raises:
        LookAheadError: a signal changed when later bars were removed.
    """
    name = backtester.spec.strategy.name
    signal_sets = [backtester.parameters(p) for p in parameter_sets]
    found = find_lookahead(backtester.signals_on, backtester.warmup, backtester.data, signal_sets)
    if found is not None:
        when = backtester.data.index[found.bar]
        raise LookAheadError(
            STRATEGY_FIELD,
            f"strategy `{name}` looks ahead: with {_shown(backtester, found.parameters)}, its "
            f"{found.signal} on bar {found.bar} ({when}) changed when the bars from "
            f"{found.cut} on were removed. A signal on a bar may use that bar and the ones "
            "before it only; shift(-1), np.roll, centred windows and whole-series "
            "statistics read later bars",
        )
    short = find_short_warmup(
        backtester.signals_on, backtester.warmup, backtester.data, signal_sets
    )
    if short is None:
        return []
    return [
        f"strategy `{name}`: warmup() declares {short.declared} bars with "
        f"{_shown(backtester, short.parameters)}, but its signals depend on about {short.needed}: "
        f"declare at least {short.needed}, or the first bars of the data and of every "
        "walk-forward window trade on indicators still warming up"
    ]


def _shown(backtester: Backtester, params: dict[str, float]) -> str:
    """The parameters the signals read: the strategy's own."""
    own = [p.name for p in backtester.strategy.parameters]
    return ", ".join(f"{k}={params[k]:g}" for k in own) or "its parameters"


#: Prices above this are no FX quote: a stock, an index, a future.
FX_PRICE_CEILING = 20.0


def smallest_values(spec: OptimizationRunSpec) -> dict[str, float]:
    """The smallest value of each searched parameter with a range."""
    return {r.name: r.min for r in spec.parameters if r.min is not None}


def largest_position_size(spec: OptimizationRunSpec, backtester: Backtester) -> float:
    """The largest position size the search may try."""
    for searched in spec.parameters:
        if searched.name == "position_size":
            return max(searched.values) if searched.values else float(searched.max or 0)
    return backtester.base_parameters["position_size"]


def quote_warnings(backtester: Backtester, smallest: dict[str, float]) -> list[str]:
    """Stop and target distances that the instrument's quoting makes meaningless;
    ``smallest`` holds the least value tried of each parameter (the fixed one otherwise)."""
    data, backtest = backtester.data, backtester.spec
    found = []
    median = float(np.median(data.close))
    pips = backtest.stop_unit.value == "pips"
    given = backtest.data.model_fields_set
    if pips and "pip_size" not in given and median > FX_PRICE_CEILING:
        found.append(
            f"spec.backtest.data.pipSize: the default 0.0001 is an FX pip, but prices are "
            f"around {median:,.4g}; for a stock or an index set pipSize: 1 (stops in points) "
            "or 0.01 (in cents), or use stopUnit: percent"
        )
    if "pip_size" in given and "tick_size" not in given and data.pip_size >= 0.01:
        found.append(
            f"spec.backtest.data.tickSize: not set, so levels round to a tenth of pipSize "
            f"({data.tick_size:g}); give the instrument's tick (0.01 for most stocks)"
        )
    if not pips:
        return found
    for name in ("stop_loss", "take_profit"):
        least = smallest.get(name, backtester.base_parameters[name])
        distance = least * data.pip_size
        if 0 < distance < data.tick_size:
            found.append(
                f"{name} of {least:g} pips is {distance:.3g}, under one tick "
                f"({data.tick_size:g}): its level rounds onto the fill price"
            )
        elif 0 < least <= backtest.costs.spread / 2:
            found.append(
                f"{name} of {least:g} pips lies inside half the spread "
                f"({backtest.costs.spread:g} pips): it is hit by the costs alone"
            )
    return found


def sizing_warnings(backtester: Backtester, largest: float) -> list[str]:
    """No lot affordable even at the largest position size tried: not one trade."""
    unaffordable = backtester.unaffordable_lot(largest)
    return [unaffordable] if unaffordable else []


def stop_out_warnings(
    backtester: Backtester, parameters: dict[str, float], who: str = "the best solution"
) -> list[str]:
    """Most of a solution's trades stopping out on their entry bar means stops tighter
    than a bar's range: the result is mostly noise."""
    _, trades = backtester.record(parameters)
    if len(trades.pnl) < 10:
        return []
    same_bar = float(
        ((trades.exit_reason == "stop_loss") & (trades.exit_bar == trades.entry_bar)).mean()
    )
    if same_bar <= 0.5:
        return []
    return [
        f"{same_bar:.0%} of {who}'s trades stop out on their entry bar: stops tighter than "
        "one bar's range; check pipSize and the stop_loss range"
    ]


def backtest_warnings(backtester: Backtester, parameters: dict[str, float]) -> list[str]:
    """What ``stratopt backtest`` checks of its one parameter set: the checks of a run,
    less those that need a search.

    Raises:
        LookAheadError: the strategy's signals read later bars.
    """
    found = probe_strategy(backtester, [parameters])
    found += sizing_warnings(backtester, parameters["position_size"])
    found += quote_warnings(backtester, parameters)
    found += stop_out_warnings(backtester, parameters, "this backtest")
    metrics = backtester.evaluate(parameters)
    if (few := too_few_trades(metrics)) is not None:
        found.append(f"this backtest {few}: its metrics cannot tell skill from luck")
    profit = Objective(name="net_profit")  # no ranges: no neighbours, only the friction
    robustness = measure(backtester, parameters, metrics, profit)
    return found + robustness_warnings("this backtest", robustness, metrics, Goal.MAXIMIZE)
