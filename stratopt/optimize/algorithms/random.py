"""Random search: uniform, scrambled Sobol or Latin hypercube samples in one batch."""

from __future__ import annotations

import warnings

import numpy as np

from stratopt.api.v1alpha1 import RandomSettings
from stratopt.optimize.driver import Driver, Evaluation
from stratopt.optimize.space import Params


class RandomDriver(Driver):
    """``samples`` points drawn with the chosen sampler from the run's seed."""

    def _setup(self) -> None:
        settings: RandomSettings = self.spec.algorithm.random or RandomSettings()
        self.samples = self.budget if self.budget is not None else settings.samples
        dimensions = self.space.dimensions
        if settings.sampler != "random":
            from scipy.stats import qmc  # a second to import: only these samplers pay it
        if settings.sampler == "sobol":
            with warnings.catch_warnings():
                # Sobol balance is best at powers of two; other counts are still valid.
                warnings.simplefilter("ignore", UserWarning)
                unit = qmc.Sobol(dimensions, scramble=True, seed=self.seed).random(self.samples)
        elif settings.sampler == "lhs":
            unit = qmc.LatinHypercube(dimensions, seed=self.seed).random(self.samples)
        else:
            unit = np.random.default_rng(self.seed).random((self.samples, dimensions))
        self.points = self.space.from_unit(unit)

    @property
    def planned_evaluations(self) -> int:
        return self.samples

    def _ask(self) -> list[Params]:
        return [] if self.history else list(self.points)

    def _tell(self, batch: list[Evaluation]) -> None:
        """Nothing to learn: the sample is fixed."""
