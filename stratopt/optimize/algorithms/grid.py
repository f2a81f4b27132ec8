"""Exhaustive grid search: one batch holding every combination."""

from __future__ import annotations

from stratopt.api.v1alpha1 import GridSettings
from stratopt.optimize.driver import Driver, Evaluation
from stratopt.optimize.space import Params


class GridDriver(Driver):
    """Every combination of each parameter's step (or ``steps`` points) and choices."""

    def _setup(self) -> None:
        settings = self.settings_of(GridSettings)
        steps = settings.steps
        if self.budget is not None:
            # As many points per axis as the budget allows.
            steps = max(2, int(self.budget ** (1.0 / self.space.dimensions)))
        every = self.space.grid(steps)
        self.points = [p for p in every if self.allowed(p)]
        #: Combinations left out because they break spec.parameterConstraints.
        self.skipped = len(every) - len(self.points)
        if self.budget is not None:
            self.points = self.points[: self.budget]

    @property
    def planned_evaluations(self) -> int:
        return len(self.points)

    def _ask(self) -> list[Params]:
        return [] if self.history else list(self.points)

    def _tell(self, batch: list[Evaluation]) -> None:
        """Nothing to learn: the grid is fixed."""

    def notes(self) -> list[str]:
        if not self.skipped:
            return []
        total = self.skipped + len(self.points)
        return [
            f"grid: {self.skipped} of {total} combinations break spec.parameterConstraints "
            "and were skipped"
        ]


DRIVER = GridDriver
