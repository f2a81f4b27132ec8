"""Prometheus metrics of the operator, in a registry of their own.

``stratopt operator`` serves them on ``STRATOPT_METRICS_PORT`` (default 8080, 0 = off).
"""

from __future__ import annotations

import threading
from typing import Protocol

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from stratopt.api.v1alpha1.status import TERMINAL_PHASES

REGISTRY = CollectorRegistry()
RUNS = Gauge(
    "stratopt_runs",
    "Runs by kind and phase, as last read or written.",
    ["kind", "phase"],
    registry=REGISTRY,
)
FINISHED = Counter(
    "stratopt_runs_finished_total",
    "Runs that reached a terminal phase.",
    ["kind", "phase"],
    registry=REGISTRY,
)
EVALUATIONS = Counter(
    "stratopt_evaluations_completed_total",
    "Backtest evaluations completed in distributed batches.",
    ["kind"],
    registry=REGISTRY,
)
BATCH_SECONDS = Histogram(
    "stratopt_batch_duration_seconds",
    "Wall time of a distributed batch, Job creation to its results.",
    registry=REGISTRY,
    buckets=(1, 2, 5, 10, 20, 30, 60, 120, 300, 600, 1800, 3600),
)
REPLAY_SECONDS = Histogram(
    "stratopt_replay_seconds",
    "Time a reconcile spent replaying a distributed search's stored batches and asking "
    "its next (in a worker thread: other runs go on meanwhile).",
    registry=REGISTRY,
    buckets=(0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30),
)
JOB_FAILURES = Counter(
    "stratopt_job_failures_total",
    "Jobs that failed after their retries.",
    ["kind"],
    registry=REGISTRY,
)
HANDLER_ERRORS = Counter(
    "stratopt_handler_errors_total",
    "Reconciliations that raised an unexpected error.",
    ["kind"],
    registry=REGISTRY,
)


class _Run(Protocol):
    @property
    def kind(self) -> str: ...


class PhaseCensus:
    """The phase of every run the operator knows, behind the ``stratopt_runs`` gauge.

    Set from what the operator reads of each run and writes to it, never counted up and
    down from transitions alone: kopf's first listing reports every run, finished ones too,
    so the gauge is right after a restart and never goes below zero.
    """

    def __init__(self, gauge: Gauge = RUNS) -> None:
        self.gauge = gauge
        self._phases: dict[_Run, str] = {}
        self._lock = threading.Lock()

    def observe(self, run: _Run, phase: str | None) -> None:
        """``run`` is now in ``phase``; None when it is gone or has no phase yet."""
        with self._lock:
            before = self._phases.pop(run, None)
            if before is not None:
                self.gauge.labels(run.kind, before).dec()
            if phase is not None:
                self._phases[run] = phase
                self.gauge.labels(run.kind, phase).inc()


CENSUS = PhaseCensus()


def record_phase(run: _Run, previous: str | None, phase: str) -> None:
    """``run`` moved from ``previous`` to ``phase``: the gauge, and a finished run counted."""
    CENSUS.observe(run, phase)
    if phase != previous and phase in TERMINAL_PHASES:
        FINISHED.labels(run.kind, phase).inc()
