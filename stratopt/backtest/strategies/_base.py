"""The strategy interface.

A strategy turns market data and its signal parameters into four boolean arrays:
long entries and exits, short entries and exits, each decided on a bar's close. The
engine owns execution: fills, stop-loss, take-profit and sizing, driven by the risk
parameters every strategy shares (``stop_loss``, ``take_profit``, ``position_size``).

A user strategy is any object with ``name``, ``parameters`` (signal parameters only),
``warmup(params)`` and ``signals(data, params)``; see the README.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal, NamedTuple, Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt

from stratopt.errors import InputError

if TYPE_CHECKING:
    from stratopt.data import MarketData

BoolArray = npt.NDArray[np.bool_]


class InvalidParameters(InputError):
    """A parameter combination the strategy cannot trade, such as a fast average slower
    than its slow one. A strategy raises it from ``signals()``: inside a search the
    combination is an infeasible evaluation, counted and reported; a single backtest of
    it is an error."""

    reason = "InvalidParameters"


@dataclass(frozen=True)
class Parameter:
    """A strategy parameter: its type, default and the bounds a search may use."""

    name: str
    kind: Literal["int", "float"]
    default: float
    low: float
    high: float
    description: str

    def coerce(self, value: object, field: str) -> float:
        """Check ``value`` against type and bounds; return it as a float."""
        if isinstance(value, bool) or not isinstance(value, int | float | np.integer | np.floating):
            raise InputError(field, f"must be a number; got {value!r}")
        number = float(value)
        if self.kind == "int" and number != int(number):
            raise InputError(field, f"must be an integer; got {value!r}")
        if not self.low <= number <= self.high:
            raise InputError(
                field, f"must be between {self.low:g} and {self.high:g}; got {number:g}"
            )
        return number


RISK_PARAMETERS: tuple[Parameter, ...] = (
    Parameter(
        "stop_loss",
        "float",
        50.0,
        0.0,
        1e6,
        "Stop-loss distance from the entry price (pips or percent, per stopUnit); 0 = none.",
    ),
    Parameter(
        "take_profit",
        "float",
        100.0,
        0.0,
        1e6,
        "Take-profit distance from the entry price (pips or percent); 0 = none.",
    ),
    Parameter(
        "position_size",
        "float",
        0.02,
        1e-6,
        1.0,
        "Fraction of equity (times leverage) committed to each position.",
    ),
)


class Signals(NamedTuple):
    """Decisions taken on each bar's close."""

    long_entry: BoolArray
    long_exit: BoolArray
    short_entry: BoolArray
    short_exit: BoolArray


@runtime_checkable
class Strategy(Protocol):
    """What the engine needs from a strategy."""

    name: str
    parameters: tuple[Parameter, ...]

    def warmup(self, params: Mapping[str, float]) -> int:
        """Bars needed before the first signal can be true."""
        ...

    def signals(self, data: MarketData, params: Mapping[str, float]) -> Signals:
        """Entry and exit decisions for every bar, using bars up to that bar only."""
        ...


def resolve_parameters(
    strategy: Strategy,
    given: Mapping[str, object],
    field: str = "spec.backtest.strategy.parameters",
) -> dict[str, float]:
    """Merge ``given`` over the defaults of the strategy's and the risk parameters.

    Raises:
        InputError: an unknown name, a wrong type or a value out of bounds.
    """
    declared = {p.name: p for p in (*strategy.parameters, *RISK_PARAMETERS)}
    unknown = sorted(set(given) - set(declared))
    if unknown:
        raise InputError(
            f"{field}.{unknown[0]}",
            f"unknown parameter of strategy '{strategy.name}'; known: {sorted(declared)}",
        )
    values = {name: p.default for name, p in declared.items()}
    for name, value in given.items():
        values[name] = declared[name].coerce(value, f"{field}.{name}")
    return values


def signal_key(strategy: Strategy, params: Mapping[str, float]) -> tuple[object, ...]:
    """Cache key of a strategy's signals: its name and its own (non-risk) parameters."""
    return ("signals", strategy.name, *(params[p.name] for p in strategy.parameters))
