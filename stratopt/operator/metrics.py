"""Prometheus metrics of the operator, in a registry of their own.

``stratopt operator`` serves them on ``STRATOPT_METRICS_PORT`` (default 8080, 0 = off).
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

REGISTRY = CollectorRegistry()
RUNS = Gauge(
    "stratopt_runs",
    "Runs by kind and phase, as last reconciled.",
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


def record_phase(kind: str, previous: str | None, phase: str) -> None:
    """Move one run from ``previous`` to ``phase`` in the gauges and counters."""
    if previous == phase:
        return
    if previous is not None:
        RUNS.labels(kind, previous).dec()
    RUNS.labels(kind, phase).inc()
    if phase in ("Succeeded", "Failed"):
        FINISHED.labels(kind, phase).inc()
