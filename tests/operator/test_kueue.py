"""Runs queued by Kueue, decided without a cluster: their Jobs carry the run's Kueue
labels and start suspended, Kueue alone unsuspends them, the run's spec.suspend acts
through the Workload, and a held run says why it waits (tests/cluster/test_kueue.py
runs the same with a real Kueue)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from stratopt.operator.plan import plan
from stratopt.operator.snapshot import Run, WorkloadView, workload_view
from stratopt.operator.steps import EnsureJob, SetSuspended, SetWorkloadActive
from stratopt.runtime.protocol import (
    PRIORITY_LABEL,
    QUEUE_LABEL,
    batch_job_name,
    job_name,
    revision,
)
from tests.operator.test_plan import (
    DISTRIBUTED,
    SETTINGS,
    SINGLE,
    job,
    of,
    reasons,
    settled,
    snapshot,
    stored,
)

LABELS = ((QUEUE_LABEL, "research"), (PRIORITY_LABEL, "low"))


def queued(spec: dict[str, Any], *args: Any, **kwargs: Any) -> Any:
    """A snapshot of a run labelled with a LocalQueue and a priority."""
    taken = snapshot(spec, *args, **kwargs)
    return replace(taken, run=replace(taken.run, queue=LABELS))


def test_run_of_reads_only_kueues_labels() -> None:
    body = {
        "metadata": {
            "name": "rsi",
            "namespace": "ns",
            "uid": "u",
            "generation": 1,
            "labels": {QUEUE_LABEL: "research", "team": "fx", PRIORITY_LABEL: "low"},
        },
        "spec": SINGLE,
    }
    assert Run.of("OptimizationRun", body).queue == tuple(sorted(LABELS))


def test_a_queued_runs_job_carries_its_labels_and_starts_suspended() -> None:
    manifest = of(plan(queued(SINGLE), SETTINGS), EnsureJob)[0].manifest
    labels = manifest["metadata"]["labels"]
    assert (labels[QUEUE_LABEL], labels[PRIORITY_LABEL]) == ("research", "low")
    assert manifest["spec"]["suspend"] is True  # Kueue starts it once admitted
    # Kueue manages the Job: the pods carry none of its labels.
    assert QUEUE_LABEL not in manifest["spec"]["template"]["metadata"]["labels"]


def test_an_unqueued_runs_job_is_unchanged() -> None:
    manifest = of(plan(snapshot(SINGLE), SETTINGS), EnsureJob)[0].manifest
    assert QUEUE_LABEL not in manifest["metadata"]["labels"]
    assert manifest["spec"]["suspend"] is False


def held_job(spec: dict[str, Any], workload: WorkloadView | None, **fields: Any) -> Any:
    held = {"suspended": True, "active": 0, **fields}
    return job(job_name("rsi", revision(spec)), spec, queue="research", workload=workload, **held)


def test_a_held_job_is_never_unsuspended_and_the_run_says_why_it_waits() -> None:
    before = settled(plan(queued(SINGLE), SETTINGS))
    waiting = WorkloadView(
        "job-rsi-1",
        reason="Pending",
        message="couldn't assign flavors to pod set main: insufficient quota for cpu",
    )
    planned = plan(queued(SINGLE, before, [held_job(SINGLE, waiting)]), SETTINGS)
    assert of(planned, SetSuspended) == [] and of(planned, SetWorkloadActive) == []
    status = planned.status()
    assert status["phase"] == "Queued"
    held = next(c for c in status["conditions"] if c["type"] == "Queued")
    assert (held["status"], held["reason"]) == ("True", "Pending")
    assert "LocalQueue research" in held["message"] and "insufficient quota" in held["message"]
    reconciling = next(c for c in status["conditions"] if c["type"] == "Reconciling")
    assert (reconciling["status"], reconciling["reason"]) == ("True", "Queued")
    assert "Queued" in reasons(planned)
    # Waiting on: nothing moved, nothing written (the resync does not rewrite status).
    again = plan(queued(SINGLE, settled(planned, before), [held_job(SINGLE, waiting)]), SETTINGS)
    assert again.status() == {}


def test_an_admitted_job_runs_and_the_run_says_so() -> None:
    waiting = WorkloadView("job-rsi-1", reason="Pending", message="insufficient quota")
    before = settled(plan(queued(SINGLE, {}, [held_job(SINGLE, waiting)]), SETTINGS))
    admitted = held_job(SINGLE, replace(waiting, admitted=True), suspended=False, active=1)
    planned = plan(queued(SINGLE, before, [admitted]), SETTINGS)
    status = planned.status()
    assert status["phase"] == "Running"
    held = next(c for c in status["conditions"] if c["type"] == "Queued")
    assert (held["status"], held["reason"]) == ("False", "Admitted")
    assert reasons(planned) == ["Admitted"]


def test_suspend_holds_back_the_workload_and_resume_releases_it() -> None:
    spec = {**SINGLE, "suspend": True}
    admitted = WorkloadView("job-rsi-1", admitted=True)
    running = held_job(spec, admitted, suspended=False, active=1)
    planned = plan(queued(spec, {}, [running]), SETTINGS)
    assert of(planned, SetWorkloadActive) == [SetWorkloadActive("job-rsi-1", False)]
    assert of(planned, SetSuspended) == []
    assert planned.status()["phase"] == "Suspended"
    inactive = held_job(SINGLE, replace(admitted, active=False, admitted=False))
    resumed = plan(queued(SINGLE, settled(planned), [inactive]), SETTINGS)
    assert of(resumed, SetWorkloadActive) == [SetWorkloadActive("job-rsi-1", True)]


def test_a_queued_search_starts_no_job_ahead() -> None:
    rev = revision(DISTRIBUTED)
    first = job(batch_job_name("rsi", rev, 0), DISTRIBUTED, created=2, running=2)
    results = stored(DISTRIBUTED, 0, started=True)
    unqueued = plan(snapshot(DISTRIBUTED, {}, [first], results), SETTINGS)
    assert len(of(unqueued, EnsureJob)) == 1  # batch 1's Job, started ahead
    planned = plan(queued(DISTRIBUTED, {}, [replace(first, queue="research")], results), SETTINGS)
    assert of(planned, EnsureJob) == []


def test_a_workload_says_why_it_waits() -> None:
    def workload(*conditions: dict[str, str], **spec: Any) -> dict[str, Any]:
        return {"metadata": {"name": "w"}, "spec": spec, "status": {"conditions": conditions}}

    assert workload_view(workload()) == WorkloadView(
        "w", message="waiting for Kueue to reserve quota"
    )
    pending = {"type": "QuotaReserved", "status": "False", "reason": "Pending", "message": "full"}
    assert workload_view(workload(pending)) == WorkloadView("w", message="full")
    evicted = {"type": "Evicted", "status": "True", "reason": "Preempted", "message": "by urgent"}
    admitted = {"type": "Admitted", "status": "False", "reason": "NoReservation", "message": ""}
    view = workload_view(workload(pending, evicted, admitted, active=False))
    assert view == WorkloadView("w", active=False, reason="Preempted", message="by urgent")
    running = {"type": "Admitted", "status": "True", "reason": "Admitted", "message": ""}
    assert workload_view(workload(running)).admitted
