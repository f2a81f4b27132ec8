"""Observe and act against a recording stand-in for the API client: what is read, how
often, and what is written for each step. (The same code against a real apiserver is in
tests/cluster.)"""

from __future__ import annotations

import json
import logging
from collections import Counter
from types import SimpleNamespace
from typing import Any

import pytest
from kubernetes.client import ApiException

from stratopt.operator import monitoring
from stratopt.operator.queue import RunKey
from stratopt.operator.reconcile import (
    METADATA_ONLY,
    CheckedAccess,
    Clients,
    RunMemory,
    _Remembered,
    act,
    observe,
    read_config_maps,
)
from stratopt.operator.snapshot import JobOutcome, Run
from stratopt.operator.steps import (
    Announce,
    Compact,
    EnsureJob,
    Plan,
    RecordReplay,
    SetStatus,
    SetSuspended,
)
from stratopt.runtime.protocol import job_name, revision
from stratopt.settings import OperatorSettings
from tests.operator.test_plan import SINGLE


class Served:
    """What ``_preload_content=False`` returns: the response, its body unread."""

    def __init__(self, items: list[dict[str, Any]]) -> None:
        self.data = json.dumps({"items": items}).encode()


class FakeApi:
    """Answers the calls observe and act make from in-memory objects, and counts them."""

    def __init__(self) -> None:
        self.calls: Counter[str] = Counter()
        self.config_maps: dict[str, tuple[str, dict[str, str]]] = {}
        self.jobs: list[dict[str, Any]] = []
        self.pods: list[dict[str, Any]] = []
        self.events: list[dict[str, Any]] = []
        self.created: list[tuple[str, dict[str, Any]]] = []
        self.deleted: list[str] = []
        self.patched: list[tuple[str, dict[str, Any]]] = []
        self.existing: set[str] = set()

    def __getattr__(self, name: str) -> Any:
        if name.startswith("create_namespaced_"):
            return lambda namespace, body: self._create(name, body)
        if name.startswith("read_namespaced_"):
            return lambda n, namespace: self._read(name, n)
        raise AttributeError(name)

    def _create(self, call: str, body: dict[str, Any]) -> None:
        self.calls[call] += 1
        key = body["metadata"].get("name") or body["metadata"].get("generateName")
        if key in self.existing:
            raise ApiException(status=409, reason="AlreadyExists")
        self.created.append((call.removeprefix("create_namespaced_"), body))

    def _read(self, call: str, name: str) -> Any:
        self.calls[call] += 1
        if call == "read_namespaced_config_map" and name in self.config_maps:
            version, data = self.config_maps[name]
            return SimpleNamespace(metadata=SimpleNamespace(resource_version=version), data=data)
        raise ApiException(status=404, reason="NotFound")

    def list_namespaced_config_map(self, namespace: str, **kwargs: Any) -> Served:
        self.calls["list_namespaced_config_map"] += 1
        assert kwargs["_headers"] == {"Accept": METADATA_ONLY}  # names, never payloads
        return Served(
            [
                {"metadata": {"name": name, "resourceVersion": version}}
                for name, (version, _) in self.config_maps.items()
            ]
        )

    def list_namespaced_job(self, namespace: str, **kwargs: Any) -> Served:
        self.calls["list_namespaced_job"] += 1
        return Served(self.jobs)

    def list_namespaced_pod(self, namespace: str, **kwargs: Any) -> Served:
        self.calls["list_namespaced_pod"] += 1
        pending = kwargs.get("field_selector") == "status.phase=Pending"
        return Served(
            [p for p in self.pods if not pending or p["status"].get("phase") == "Pending"]
        )

    def list_namespaced_event(self, namespace: str, **kwargs: Any) -> Served:
        self.calls["list_namespaced_event"] += 1
        return Served(self.events)

    def delete_namespaced_job(self, name: str, namespace: str, **kwargs: Any) -> None:
        self.calls["delete_namespaced_job"] += 1
        self.deleted.append(name)

    def patch_namespaced_job(self, name: str, namespace: str, body: dict[str, Any]) -> None:
        self.patched.append((name, body))

    def delete_namespaced_config_map(self, name: str, namespace: str) -> None:
        self.calls["delete_namespaced_config_map"] += 1
        if name not in self.config_maps:
            raise ApiException(status=404, reason="NotFound")
        del self.config_maps[name]


def clients(api: FakeApi) -> Clients:
    return Clients(api, api, api, api, api)


RUN = Run("OptimizationRun", "rsi", "ns", "uid-1", 1, revision(SINGLE), False)
BODY = {
    "metadata": {"name": "rsi", "namespace": "ns", "uid": "uid-1", "generation": 1},
    "spec": SINGLE,
}


def served_job(name: str, **status: Any) -> dict[str, Any]:
    return {
        "metadata": {"name": name, "labels": {"stratopt.io/revision": RUN.revision}},
        "spec": {"suspend": False},
        "status": status,
    }


def test_each_config_map_is_read_once_and_again_only_when_it_changed() -> None:
    api = FakeApi()
    api.config_maps = {"a": ("1", {"metrics.json": "[]"}), "b": ("5", {"progress.json": "{}"})}
    memory = _Remembered(RUN.uid, RUN.revision)
    first = read_config_maps(api, RUN, memory)
    assert first == {"a": {"metrics.json": "[]"}, "b": {"progress.json": "{}"}}
    assert api.calls["read_namespaced_config_map"] == 2
    api.config_maps["b"] = ("6", {"progress.json": '{"evaluationsCompleted": 3}'})
    api.config_maps["c"] = ("7", {"metrics.json": "[1]"})
    second = read_config_maps(api, RUN, memory)
    assert api.calls["read_namespaced_config_map"] == 4  # b changed, c is new; a is kept
    assert second["b"] == {"progress.json": '{"evaluationsCompleted": 3}'}
    assert second["a"] == first["a"] and second["c"] == {"metrics.json": "[1]"}
    del api.config_maps["a"]
    assert "a" not in read_config_maps(api, RUN, memory)
    assert api.calls["read_namespaced_config_map"] == 4


def test_a_finished_run_is_observed_without_any_api_call() -> None:
    api = FakeApi()
    status = {"phase": "Succeeded", "observedGeneration": 1, "revision": RUN.revision}
    snapshot = observe(clients(api), "OptimizationRun", {**BODY, "status": status})
    assert api.calls == Counter()
    assert snapshot.jobs == {} and snapshot.results == {}


def test_pods_and_events_are_read_only_for_a_job_that_needs_them() -> None:
    api = FakeApi()
    name = job_name("rsi", RUN.revision)
    api.jobs = [served_job(name, active=1)]
    snapshot = observe(clients(api), "OptimizationRun", BODY)
    assert snapshot.jobs[name].outcome is JobOutcome.RUNNING
    # a running Job: its pending pods only; it has pods, so no Events
    assert api.calls["list_namespaced_pod"] == 1 and api.calls["list_namespaced_event"] == 0

    api = FakeApi()
    api.jobs = [served_job(name, active=0)]
    api.events = [
        {"reason": "FailedCreate", "message": "exceeded quota", "lastTimestamp": "2026-01-01"}
    ]
    snapshot = observe(clients(api), "OptimizationRun", BODY)
    assert snapshot.jobs[name].refused == "the Job cannot create its pods: exceeded quota"


def test_a_failed_jobs_pod_report_is_read_back() -> None:
    api = FakeApi()
    name = job_name("rsi", RUN.revision)
    api.jobs = [
        served_job(
            name,
            conditions=[{"type": "Failed", "status": "True", "reason": "PodFailurePolicy"}],
        )
    ]
    report = {"reason": "InvalidData", "message": "no such file", "field": "spec.x"}
    api.pods = [
        {
            "metadata": {"labels": {"batch.kubernetes.io/job-name": name}},
            "status": {
                "phase": "Failed",
                "containerStatuses": [
                    {"state": {"terminated": {"exitCode": 2, "message": json.dumps(report)}}}
                ],
            },
        }
    ]
    failure = observe(clients(api), "OptimizationRun", BODY).jobs[name].failure
    assert failure is not None
    assert (failure.reason, failure.message, failure.field) == (
        "InvalidData",
        "no such file",
        "spec.x",
    )


def test_act_creates_idempotently_removes_stale_jobs_and_collects_the_status() -> None:
    api = FakeApi()
    settings = OperatorSettings()
    job = {"metadata": {"name": "rsi-new"}}
    maps = ({"metadata": {"name": "in-0"}},)
    api.existing = {"in-0"}  # created by an earlier try that failed later
    planned = Plan(
        (
            EnsureJob(job, maps, ("rsi-old",)),
            Announce("JobCreated", "Job rsi-new created"),
            SetSuspended("rsi-new", True),
            SetStatus({"phase": "Running", "revision": RUN.revision}),
            SetStatus({"observedGeneration": 1}),
        )
    )
    status = act(clients(api), RUN, planned, settings, None)
    assert status == {"phase": "Running", "revision": RUN.revision, "observedGeneration": 1}
    assert api.deleted == ["rsi-old"]
    kinds = [kind for kind, _ in api.created]
    assert kinds == ["service_account", "role", "role_binding", "job", "event"]
    assert api.patched == [("rsi-new", {"spec": {"suspend": True}})]
    assert api.created[-1][1]["reason"] == "JobCreated"


def test_compacting_deletes_what_is_left_even_when_cut_short_before() -> None:
    api = FakeApi()
    api.config_maps = {"rsi-b0-in0": ("1", {}), "rsi-b0-s0": ("1", {})}
    # One ConfigMap already gone (a compaction cut short before a restart): no error.
    planned = Plan((Compact(("rsi-b0-in0", "rsi-b0-s0", "rsi-b0-s1"), ("rsi-b0",)),))
    act(clients(api), RUN, planned, OperatorSettings(), None)
    assert api.config_maps == {}
    assert api.deleted == ["rsi-b0"]


def test_the_workers_access_is_read_once_a_period_per_namespace_not_once_a_job() -> None:
    api = FakeApi()
    settings = OperatorSettings()
    moment = [0.0]
    access = CheckedAccess(seconds=60.0, clock=lambda: moment[0])

    def ensure_job(run: Run, batch: int) -> None:
        job = {"metadata": {"name": f"{run.name}-b{batch}"}}
        act(clients(api), run, Plan((EnsureJob(job, (), ()),)), settings, None, access)

    for batch in range(5):  # one Job per batch of a search, within a minute
        moment[0] = 10.0 * batch
        ensure_job(RUN, batch)
    reads = ("read_namespaced_service_account", "read_namespaced_role")
    assert [api.calls[read] for read in reads] == [1, 1]
    other = Run(RUN.kind, "other", "team-b", "uid-2", 1, RUN.revision, False)
    ensure_job(other, 0)  # another namespace has access of its own to check
    assert [api.calls[read] for read in reads] == [2, 2]
    moment[0] = 100.0  # a period after the check: read again, mended if it was deleted
    ensure_job(RUN, 5)
    assert [api.calls[read] for read in reads] == [3, 3]
    accounts = [body for kind, body in api.created if kind == "service_account"]
    assert len(accounts) == 3  # each check found it missing here (the fake keeps nothing)


def test_the_workers_network_policy_is_created_only_when_asked() -> None:
    def ensured(settings: OperatorSettings) -> list[dict[str, Any]]:
        api = FakeApi()
        job = {"metadata": {"name": "rsi-b0"}}
        act(clients(api), RUN, Plan((EnsureJob(job, (), ()),)), settings, None)
        return [body for kind, body in api.created if kind == "network_policy"]

    assert ensured(OperatorSettings()) == []
    settings = OperatorSettings()
    settings.jobs.worker_network_policy = True
    (policy,) = ensured(settings)
    assert policy["metadata"] == {
        "name": "stratopt-worker",
        "namespace": RUN.namespace,
        "labels": {"app.kubernetes.io/managed-by": "stratopt"},
    }


def test_memory_forgets_a_run_whose_spec_changed_and_keeps_a_bounded_number() -> None:
    memory = RunMemory(kept=2)
    kept = memory.of(RUN)
    kept.config_maps["x"] = ("1", {})
    assert memory.of(RUN) is kept
    changed = Run(RUN.kind, RUN.name, RUN.namespace, RUN.uid, 2, "other", False)
    assert memory.of(changed).config_maps == {}
    for name in ("b", "c"):
        memory.of(Run(RUN.kind, name, "ns", name, 1, "r", False))
    assert len(memory) == 2
    memory.forget(RunKey(RUN.kind, "ns", "c"))
    assert len(memory) == 1


def test_an_unreachable_api_server_fails_the_reconcile_which_is_retried(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A reconcile whose first read finds no API server (restarting, cut off) is logged
    and retried; nothing escapes to end the operator's reconcile loop."""
    from urllib3.exceptions import MaxRetryError

    from stratopt.operator.handlers import reconcile_one
    from stratopt.operator.queue import RunQueue
    from stratopt.operator.reconcile import Clients, RunMemory

    class Unreachable:
        def get_namespaced_custom_object(self, *args: Any) -> None:
            raise MaxRetryError(None, "/apis/stratopt.io", "Connection refused")  # type: ignore[arg-type]

    runs, key = RunQueue(0.5), RunKey("OptimizationRun", "ns", "rsi")
    clients = Clients(None, None, None, Unreachable())
    with caplog.at_level("ERROR", logger="stratopt.operator"):
        reconcile_one(runs, key, clients, OperatorSettings(), RunMemory())
    assert "the API server did not answer: MaxRetryError" in caplog.text
    assert runs.failed(key, 0.0)[0] == 2  # the first failure was counted, and retried


def test_a_replays_cost_is_measured_and_logged_at_debug(caplog: pytest.LogCaptureFixture) -> None:
    before = monitoring.REPLAY_SECONDS.collect()[0].samples
    count = next(s.value for s in before if s.name.endswith("_count"))
    with caplog.at_level(logging.DEBUG, logger="stratopt.operator"):
        act(clients(FakeApi()), RUN, Plan((RecordReplay(0.25, 3),)), OperatorSettings(), None)
    after = monitoring.REPLAY_SECONDS.collect()[0].samples
    assert next(s.value for s in after if s.name.endswith("_count")) == count + 1
    assert "replayed 3 batches and asked the next in 0.250 s" in caplog.messages
