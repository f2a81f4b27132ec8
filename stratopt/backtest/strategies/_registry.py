"""Look up strategies by built-in name or by ``package.module:attribute``."""

from __future__ import annotations

import importlib
import sysconfig
import traceback
from pathlib import Path

from stratopt.backtest.strategies._base import Parameter, Strategy
from stratopt.backtest.strategies._builtin import DonchianBreakout, EmaCrossover, RsiReversion
from stratopt.errors import InputError

_REGISTRY: dict[str, Strategy] = {}
_PACKAGE = str(Path(__file__).resolve().parents[2])
_LIBRARIES = (sysconfig.get_paths()["purelib"], sysconfig.get_paths()["stdlib"], "<frozen")


def register(strategy: Strategy) -> Strategy:
    """Add a strategy under its ``name``; returns it so this works as a decorator target."""
    _REGISTRY[strategy.name] = strategy
    return strategy


for _builtin in (RsiReversion(), EmaCrossover(), DonchianBreakout()):
    register(_builtin)


def user_code_failure(name: str, exc: BaseException, when: str = "") -> str:
    """The failure of a user's strategy, e.g. "strategy `pkg.mod:attr` raised ValueError:
    … (at file:line)", pointing at the user's code rather than at stratopt or a library."""
    frames = traceback.extract_tb(exc.__traceback__)
    own = [f for f in frames if not f.filename.startswith((_PACKAGE, *_LIBRARIES))]
    where = f" (at {own[-1].filename}:{own[-1].lineno})" if own else ""
    return f"strategy `{name}` raised {type(exc).__name__}{when}: {exc}{where}"


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
    except (Exception, *USER_FAILURES) as exc:  # the user's module failed at its import
        raise InputError(field, user_code_failure(name, exc, " at import")) from exc
    try:
        target = getattr(module, attribute)
    except AttributeError as exc:
        raise InputError(field, f"module '{module_name}' has no attribute '{attribute}'") from exc
    if not declares_strategy(target):
        raise InputError(
            field,
            f"'{name}' is not a strategy: it must declare name, parameters, warmup() and "
            "signals(); nothing else is built",
        )
    if isinstance(target, type):
        try:
            strategy = target()
        except USER_FAILURES as exc:
            raise InputError(field, user_code_failure(name, exc, " when built")) from exc
        except TypeError as exc:
            raise InputError(
                field,
                f"strategy `{name}` is a class that cannot be built without arguments ({exc}); "
                "give it defaults, or point at an instance",
            ) from exc
        except Exception as exc:
            raise InputError(field, user_code_failure(name, exc, " when built")) from exc
    else:
        strategy = target
    if not isinstance(strategy, Strategy):
        raise InputError(
            field,
            f"'{name}' is not a strategy: it needs name, parameters, warmup() and signals()",
        )
    check_declarations(strategy, name, field)
    return strategy


#: What a user's code may raise that is not an ordinary exception but still its failure:
#: a strategy that exits or interrupts must end the run with an error, not a success.
USER_FAILURES = (SystemExit, KeyboardInterrupt)


def declares_strategy(target: object) -> bool:
    """Whether ``target`` (a class or an object) declares the strategy protocol, judged
    from its attributes alone: nothing is called, so a class that is no strategy is never
    built."""
    kind = target if isinstance(target, type) else type(target)
    methods = all(callable(getattr(kind, method, None)) for method in ("warmup", "signals"))
    declared = set(getattr(target, "__dict__", {}))
    for base in kind.__mro__:
        declared |= {*vars(base).keys(), *getattr(base, "__annotations__", {})}
    return methods and {"name", "parameters"} <= declared


def check_declarations(strategy: Strategy, name: str, field: str) -> None:
    """A strategy's ``name`` is text and its ``parameters`` a sequence of Parameter."""
    if not isinstance(strategy.name, str) or not strategy.name:
        raise InputError(
            field, f"strategy `{name}`: its name must be a non-empty string; got {strategy.name!r}"
        )
    declared = strategy.parameters
    if not isinstance(declared, tuple | list) or not all(
        isinstance(p, Parameter) for p in declared
    ):
        raise InputError(
            field,
            f"strategy `{name}`: parameters must be a tuple of "
            "stratopt.backtest.strategies.Parameter",
        )
