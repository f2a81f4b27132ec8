"""Strategies: the registry, the interface user strategies implement, and built-ins."""

from stratopt.backtest.strategies._base import (
    RISK_PARAMETERS,
    InvalidParameters,
    Parameter,
    Signals,
    Strategy,
    resolve_parameters,
)
from stratopt.backtest.strategies._builtin import DonchianBreakout, EmaCrossover, RsiReversion
from stratopt.backtest.strategies._registry import available_strategies, get_strategy, register

__all__ = [
    "RISK_PARAMETERS",
    "DonchianBreakout",
    "EmaCrossover",
    "InvalidParameters",
    "Parameter",
    "RsiReversion",
    "Signals",
    "Strategy",
    "available_strategies",
    "get_strategy",
    "register",
    "resolve_parameters",
]
