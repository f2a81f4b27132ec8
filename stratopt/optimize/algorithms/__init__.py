"""The search algorithms, each an ask/tell :class:`~stratopt.optimize.driver.Driver`.

A new algorithm is one module here, one settings model in ``stratopt.api``, one entry
in :data:`DRIVERS`, one example and one line in the contract tests. Modules load on
first use, so a grid search never pays for importing scikit-optimize.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator, Mapping

from stratopt.optimize.driver import Driver

_LOCATIONS = {
    "nsga2": "stratopt.optimize.algorithms.nsga2:Nsga2Driver",
    "bayesian": "stratopt.optimize.algorithms.bayesian:BayesianDriver",
    "grid": "stratopt.optimize.algorithms.grid:GridDriver",
    "random": "stratopt.optimize.algorithms.random:RandomDriver",
    "ensemble": "stratopt.optimize.algorithms.ensemble:EnsembleDriver",
}


class _Registry(Mapping[str, type[Driver]]):
    """Algorithm name → driver class, imported when first looked up."""

    def __getitem__(self, name: str) -> type[Driver]:
        module, _, attribute = _LOCATIONS[name].partition(":")
        driver: type[Driver] = getattr(importlib.import_module(module), attribute)
        return driver

    def __iter__(self) -> Iterator[str]:
        return iter(_LOCATIONS)

    def __len__(self) -> int:
        return len(_LOCATIONS)


DRIVERS: Mapping[str, type[Driver]] = _Registry()

__all__ = ["DRIVERS"]
