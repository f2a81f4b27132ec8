"""The search algorithms, each an ask/tell :class:`~stratopt.optimize.driver.Driver`.

Algorithm ``<name>`` of the catalogue (:data:`stratopt.api.v1alpha1.ALGORITHMS`) is
driven by the ``DRIVER`` of module ``stratopt.optimize.algorithms.<name>``. Modules load
on first use, so a grid search never pays for importing scikit-optimize.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator, Mapping

from stratopt.api.v1alpha1.algorithms import ALGORITHM_NAMES
from stratopt.optimize.driver import Driver


class _Registry(Mapping[str, type[Driver]]):
    """Algorithm name → driver class, imported when first looked up."""

    def __getitem__(self, name: str) -> type[Driver]:
        if name not in ALGORITHM_NAMES:
            raise KeyError(name)
        driver: type[Driver] = importlib.import_module(f"{__name__}.{name}").DRIVER
        return driver

    def __iter__(self) -> Iterator[str]:
        return iter(ALGORITHM_NAMES)

    def __len__(self) -> int:
        return len(ALGORITHM_NAMES)


DRIVERS: Mapping[str, type[Driver]] = _Registry()

__all__ = ["DRIVERS"]
