"""An ensemble: member algorithms share a budget, one after another; their results are
merged into one front by the caller (every evaluation counts)."""

from __future__ import annotations

from typing import Any

from stratopt.api.v1alpha1 import EnsembleSettings
from stratopt.optimize.driver import Driver, Evaluation
from stratopt.optimize.space import Params


class EnsembleDriver(Driver):
    """Runs each member with ``budget × weight / total weight`` evaluations and a seed
    derived from the run's seed, so the whole ensemble replays exactly."""

    def _setup(self) -> None:
        from stratopt.optimize.algorithms import DRIVERS

        settings = self.settings_of(EnsembleSettings)
        total_weight = sum(m.weight for m in settings.members)
        budget = self.budget if self.budget is not None else settings.budget
        self.members: list[Driver] = []
        for index, member in enumerate(settings.members):
            share = max(2, int(budget * member.weight / total_weight))
            self.members.append(
                DRIVERS[member.name](self.spec, budget=share, seed=self.seed + 1000 * (index + 1))
            )
        self.names = [m.name for m in settings.members]
        self._current = 0

    @property
    def planned_evaluations(self) -> int:
        return sum(m.planned_evaluations for m in self.members)

    def notes(self) -> list[str]:
        return [note for member in self.members for note in member.notes()]

    def _ask(self) -> list[Params]:
        while self._current < len(self.members):
            batch = self.members[self._current].ask()
            if batch:
                return batch
            self._current += 1
        return []

    def _tell(self, batch: list[Evaluation]) -> None:
        self.members[self._current].tell([e.metrics for e in batch])

    def progress(self) -> dict[str, Any]:
        index = min(self._current, len(self.members) - 1)
        return {"member": self.names[index]}


DRIVER = EnsembleDriver
