"""Random search: uniform, scrambled Sobol or Latin hypercube samples in one batch."""

from __future__ import annotations

import numpy as np

from stratopt.api.v1alpha1 import RandomSettings
from stratopt.optimize.driver import Driver, Evaluation
from stratopt.optimize.sobol import scrambled_sobol
from stratopt.optimize.space import Params


class RandomDriver(Driver):
    """``samples`` points drawn with the chosen sampler from the run's seed."""

    def _setup(self) -> None:
        settings = self.settings_of(RandomSettings)
        self.samples = self.budget if self.budget is not None else settings.samples
        dimensions = self.space.dimensions

        def draw(count: int) -> list[Params]:
            if settings.sampler == "sobol":
                unit = scrambled_sobol(dimensions, count, self.seed)
            elif settings.sampler == "lhs":
                from scipy.stats import qmc  # most of a second to import: only LHS pays it

                unit = qmc.LatinHypercube(dimensions, seed=self.seed).random(count)
            else:
                unit = np.random.default_rng(self.seed).random((count, dimensions))
            return self.space.from_unit(unit)

        self.points = self.allowed_sample(draw, self.samples)

    @property
    def planned_evaluations(self) -> int:
        return len(self.points)

    def _ask(self) -> list[Params]:
        return [] if self.history else list(self.points)

    def _tell(self, batch: list[Evaluation]) -> None:
        """Nothing to learn: the sample is fixed."""


DRIVER = RandomDriver
