"""The search algorithms, each an ask/tell :class:`~stratopt.optimize.driver.Driver`.

A new algorithm is one module here, one settings model in ``stratopt.api``, one entry
in :data:`DRIVERS`, one example and one line in the contract tests.
"""

from __future__ import annotations

from stratopt.optimize.algorithms.bayesian import BayesianDriver
from stratopt.optimize.algorithms.ensemble import EnsembleDriver
from stratopt.optimize.algorithms.grid import GridDriver
from stratopt.optimize.algorithms.nsga2 import Nsga2Driver
from stratopt.optimize.algorithms.random import RandomDriver
from stratopt.optimize.driver import Driver

DRIVERS: dict[str, type[Driver]] = {
    "nsga2": Nsga2Driver,
    "bayesian": BayesianDriver,
    "grid": GridDriver,
    "random": RandomDriver,
    "ensemble": EnsembleDriver,
}

__all__ = [
    "DRIVERS",
    "BayesianDriver",
    "EnsembleDriver",
    "GridDriver",
    "Nsga2Driver",
    "RandomDriver",
]
