"""Look up strategies by built-in name or by ``package.module:attribute``."""

from __future__ import annotations

import importlib

from stratopt.backtest.strategies._base import Strategy
from stratopt.backtest.strategies._builtin import DonchianBreakout, EmaCrossover, RsiReversion
from stratopt.errors import InputError

_REGISTRY: dict[str, Strategy] = {}


def register(strategy: Strategy) -> Strategy:
    """Add a strategy under its ``name``; returns it so this works as a decorator target."""
    _REGISTRY[strategy.name] = strategy
    return strategy


for _builtin in (RsiReversion(), EmaCrossover(), DonchianBreakout()):
    register(_builtin)


def available_strategies() -> list[str]:
    """Names of the registered strategies."""
    return sorted(_REGISTRY)


def get_strategy(name: str, field: str = "spec.backtest.strategy.name") -> Strategy:
    """A registered strategy, or one loaded from ``package.module:attribute``.

    The attribute may be a strategy object or a class that builds one without arguments.
    """
    if name in _REGISTRY:
        return _REGISTRY[name]
    if ":" not in name:
        raise InputError(
            field,
            f"unknown strategy '{name}'; use one of {available_strategies()} "
            "or 'package.module:attribute'",
        )
    module_name, _, attribute = name.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise InputError(field, f"cannot import module '{module_name}': {exc}") from exc
    try:
        target = getattr(module, attribute)
    except AttributeError as exc:
        raise InputError(field, f"module '{module_name}' has no attribute '{attribute}'") from exc
    strategy = target() if isinstance(target, type) else target
    if not isinstance(strategy, Strategy):
        raise InputError(
            field,
            f"'{name}' is not a strategy: it needs name, parameters, warmup() and signals()",
        )
    return strategy
