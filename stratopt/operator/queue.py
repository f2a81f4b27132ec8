"""Which runs to reconcile next.

The operator is driven by watch events: a run's own changes and those of the Jobs it
owns mark it for reconciliation at once, and every unfinished run is also looked at again
every ``resync`` seconds, for what no event reports (a Job's pods refused by a quota, a
pod that fits no node, a failed reconciliation). Finished runs are left alone until their
spec changes. Nothing here survives a restart, nor needs to: kopf's first listing marks
every run again.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, replace
from typing import Any

from stratopt.api._resource import GROUP, VERSION
from stratopt.api.kinds import PLURALS
from stratopt.operator.status import TERMINAL_PHASES


@dataclass(frozen=True, order=True)
class RunKey:
    kind: str
    namespace: str
    name: str

    @property
    def plural(self) -> str:
        return PLURALS[self.kind]

    def reference(self) -> dict[str, str]:
        """The run as kopf's JSON logs name objects."""
        return {
            "apiVersion": f"{GROUP}/{VERSION}",
            "kind": self.kind,
            "namespace": self.namespace,
            "name": self.name,
        }


def is_settled(body: Mapping[str, Any]) -> bool:
    """A finished run whose status answers its current spec: nothing left to do."""
    phase = (body.get("status") or {}).get("phase")
    return phase in TERMINAL_PHASES and not spec_unanswered(body)


def spec_unanswered(body: Mapping[str, Any]) -> bool:
    """The spec changed since the status was written (or no status was written yet)."""
    status = body.get("status") or {}
    generation = (body.get("metadata") or {}).get("generation")
    return status.get("observedGeneration") != generation


def owning_run(body: Mapping[str, Any]) -> RunKey | None:
    """The run that owns this object (a Job, a ConfigMap), from its owner references."""
    metadata = body.get("metadata") or {}
    for owner in metadata.get("ownerReferences") or []:
        if owner.get("apiVersion") == f"{GROUP}/{VERSION}" and owner.get("kind") in PLURALS:
            return RunKey(owner["kind"], metadata.get("namespace", ""), owner["name"])
    return None


@dataclass(frozen=True)
class Outage:
    """Reconciliations of a run that failed in a row (the API server down, etcd down):
    since when, how many, the last one's cause and, once over, how long it lasted."""

    since: float
    failures: int = 0
    last: str = ""
    seconds: float = 0.0

    @property
    def worth_saying(self) -> bool:
        """More than one failure: a lasting outage, not a conflict retried at once."""
        return self.failures > 1

    def message(self) -> str:
        """What the run's Event says once it can be written again."""
        return (
            f"the run could not be reconciled for {self.seconds:.0f} s ({self.failures} "
            f"attempts; the last: {self.last}); it carries on from what its pods stored"
        )


class RunQueue:
    """Runs marked for reconciliation now, and unfinished runs due for a resync.

    Marked from kopf's handler threads and drained by one loop, which leaves out the runs
    it is reconciling: a run is never reconciled twice at once, and a burst of events
    costs one reconciliation.
    """

    def __init__(self, resync: float, max_retry: float = 60.0) -> None:
        self.resync = resync
        self.max_retry = max_retry
        self._lock = threading.Lock()
        self._marked: dict[RunKey, None] = {}
        self._next: dict[RunKey, float] = {}
        #: Runs whose reconciles are failing, since when and how often.
        self._outages: dict[RunKey, Outage] = {}
        self._wake: Callable[[], object] = lambda: None

    def on_mark(self, wake: Callable[[], object]) -> None:
        """Call ``wake`` (from the marking thread) whenever a run is marked, so the loop
        that drains the queue reconciles it at once instead of at its next poll."""
        self._wake = wake

    def mark(self, key: RunKey) -> None:
        """Reconcile ``key`` at the next turn."""
        with self._lock:
            self._marked[key] = None
        self._wake()

    def track(self, key: RunKey, now: float) -> None:
        """Keep resyncing ``key`` (an unfinished run) without reconciling it now."""
        with self._lock:
            self._next.setdefault(key, now + self.resync)

    def failed(self, key: RunKey, now: float, why: str = "") -> tuple[int, float]:
        """Count a failed reconciliation of ``key`` (``why``: what failed) and schedule the
        next try, after a wait that doubles from ``resync`` up to ``max_retry``: (failures
        in a row, the wait)."""
        with self._lock:
            outage = self._outages.get(key) or Outage(now)
            failures = outage.failures + 1
            self._outages[key] = replace(outage, failures=failures, last=why)
            delay = min(self.resync * 2 ** (failures - 1), self.max_retry)
            self._next[key] = now + delay
            return failures, delay

    def succeeded(self, key: RunKey, now: float = 0.0) -> Outage | None:
        """``key`` was reconciled: the failures in a row it ends (None when there were
        none), with their seconds counted up to ``now``."""
        with self._lock:
            outage = self._outages.pop(key, None)
        return None if outage is None else replace(outage, seconds=now - outage.since)

    def forget(self, key: RunKey) -> None:
        """``key`` is finished or gone: no more resyncs until an event marks it."""
        with self._lock:
            self._marked.pop(key, None)
            self._next.pop(key, None)
            self._outages.pop(key, None)

    def due(
        self, now: float, busy: Collection[RunKey] = (), limit: int | None = None
    ) -> list[RunKey]:
        """The runs to reconcile now, at most ``limit``: the marked ones, then those due
        for a resync; none that is ``busy`` (being reconciled: a run marked meanwhile
        stays marked for when it is done). Each is scheduled for its next resync;
        ``forget`` ends that."""
        with self._lock:
            keys = [key for key in self._marked if key not in busy]
            keys += [
                key
                for key, at in self._next.items()
                if at <= now and key not in busy and key not in self._marked
            ]
            keys = keys[:limit]
            for key in keys:
                self._marked.pop(key, None)
                self._next[key] = now + self.resync
            return keys

    def wait(self, now: float, busy: Collection[RunKey] = ()) -> float | None:
        """Seconds until a run that is not ``busy`` is due (0 when one is marked); None
        when none is tracked."""
        with self._lock:
            if any(key not in busy for key in self._marked):
                return 0.0
            waiting = [at for key, at in self._next.items() if key not in busy]
            if not waiting:
                return None
            return max(0.0, min(waiting) - now)

    def tracked(self) -> list[RunKey]:
        with self._lock:
            return sorted(self._next)
