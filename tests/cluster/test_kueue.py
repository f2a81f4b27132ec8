"""Kueue quotas with a real Kueue (tests/cluster/kueue.py): runs labelled with a LocalQueue
wait for quota and say so, Kueue alone starts their Jobs, a preempted run ends with the
answer it would have had undisturbed, spec.suspend still works on top, and a GPU
ForecastRun is admitted through a ResourceFlavor of the node's patched GPUs."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from kopf.testing import KopfRunner
from kubernetes import client

from stratopt.runtime.protocol import PRIORITY_LABEL, QUEUE_LABEL
from tests.cluster.conftest import WORKER_CPU, WORKER_MEMORY, apply, kubectl
from tests.cluster.controlplane import ControlPlane
from tests.cluster.kueue import API, apply_all, queues
from tests.cluster.node import Node
from tests.cluster.test_operator import (
    _assert_same_result,
    _local_status,
    distributed_example,
    finished,
    jobs_created,
    resource,
    running_operator,
)
from tests.cluster.waiting import wait_for
from tests.test_examples import reduced

GROUP, VERSION = API.split("/")


@pytest.fixture()
def queued_namespace(namespace: str, control_plane: ControlPlane, kueue: str) -> str:
    """The test's namespace, whose Jobs Kueue's webhooks see."""
    kubectl(control_plane, "label", "namespace", namespace, f"{kueue}=true")
    return namespace


@pytest.fixture()
def operator(queued_namespace: str, operator_kubeconfig: Path, node: Node) -> Iterator[KopfRunner]:
    with running_operator(queued_namespace, operator_kubeconfig) as runner:
        yield runner


def queued_run(name: str, priority: str) -> dict[str, Any]:
    """A distributed run of three batches, one pod at a time, in LocalQueue ``work``."""
    document = distributed_example(name)
    document["spec"]["execution"]["parallelism"] = 1
    document["metadata"]["labels"] = {QUEUE_LABEL: "work", PRIORITY_LABEL: priority}
    return document


def condition(body: dict[str, Any], kind: str) -> dict[str, Any] | None:
    conditions = (body.get("status") or {}).get("conditions") or []
    return next((c for c in conditions if c["type"] == kind and c["status"] == "True"), None)


def jobs_of(api: client.ApiClient, namespace: str, run: str) -> list[Any]:
    jobs: list[Any] = (
        client.BatchV1Api(api)
        .list_namespaced_job(namespace, label_selector=f"stratopt.io/run={run}")
        .items
    )
    return jobs


def running_job(api: client.ApiClient, namespace: str, run: str) -> Any:
    return next((j for j in jobs_of(api, namespace, run) if (j.status.active or 0) > 0), None)


def messages(api: client.ApiClient, namespace: str, name: str, reason: str) -> list[str]:
    events = client.CoreV1Api(api).list_namespaced_event(
        namespace, field_selector=f"involvedObject.name={name}"
    )
    return [e.message or "" for e in events.items if e.reason == reason]


def test_runs_queue_within_quota_and_a_preempted_run_ends_with_the_same_answer(
    api: client.ApiClient,
    control_plane: ControlPlane,
    queued_namespace: str,
    operator: KopfRunner,
) -> None:
    namespace = queued_namespace
    # Room for one worker pod: the runs take turns.
    apply_all(control_plane, queues(namespace, quota={"cpu": WORKER_CPU, "memory": WORKER_MEMORY}))
    runs = {"first": queued_run("first", "low"), "second": queued_run("second", "low")}
    apply(control_plane, namespace, runs["first"])
    wait_for(lambda: running_job(api, namespace, "first"), "the first run's pod", 120)
    apply(control_plane, namespace, runs["second"])

    def waiting() -> dict[str, Any] | None:
        body = resource(api, namespace, "optimizationruns", "second")
        return body if condition(body, "Queued") else None

    body = wait_for(waiting, "the second run to say it is queued", 60)
    assert body["status"]["phase"] == "Queued"
    queued = condition(body, "Queued")
    assert queued is not None and "LocalQueue work" in queued["message"], queued
    assert "insufficient" in queued["message"].lower(), queued  # Kueue's word on the quota
    listed = kubectl(control_plane, "get", "optrun", "second", "-n", namespace).stdout
    assert "Queued" in listed, listed
    # Kueue owns a queued Job's suspend: the operator leaves the held one suspended.
    held = jobs_of(api, namespace, "second")
    assert held and all(j.spec.suspend for j in held), [j.spec.suspend for j in held]
    assert all(j.metadata.labels[PRIORITY_LABEL] == "low" for j in held)

    # spec.suspend on top of Kueue: the run is suspended, its Workload held back.
    runs["second"]["spec"]["suspend"] = True
    apply(control_plane, namespace, runs["second"])
    wait_for(
        lambda: (
            resource(api, namespace, "optimizationruns", "second")["status"]["phase"] == "Suspended"
        ),
        "the second run to be suspended",
        60,
    )

    def inactive() -> bool:
        workloads = client.CustomObjectsApi(api).list_namespaced_custom_object(
            GROUP, VERSION, namespace, "workloads"
        )["items"]
        uids = {j.metadata.uid for j in jobs_of(api, namespace, "second")}
        return any(
            w["metadata"]["labels"].get("kueue.x-k8s.io/job-uid") in uids
            and w["spec"].get("active") is False
            for w in workloads
        )

    wait_for(inactive, "the suspended run's Workload to be deactivated", 30)
    runs["second"]["spec"]["suspend"] = False
    apply(control_plane, namespace, runs["second"])

    # A higher priority preempts whichever low run Kueue admitted.
    runs["urgent"] = queued_run("urgent", "high")
    apply(control_plane, namespace, runs["urgent"])
    preempted = wait_for(
        lambda: [
            name
            for name in ("first", "second")
            if any("Preempted" in m for m in messages(api, namespace, name, "Queued"))
        ],
        "a low-priority run to be preempted",
        120,
    )
    for name, document in runs.items():
        status = finished(api, namespace, "optimizationruns", name, timeout=300)["status"]
        assert status["phase"] == "Succeeded", (name, status)
        _assert_same_result(status, _local_status(document))
        assert not condition({"status": status}, "Queued")
        rev = status["revision"]
        # Preempted and admitted again, each of its Jobs was created once.
        created = jobs_created(control_plane, namespace)
        own = {job: n for job, n in created.items() if job.startswith(f"{name}-")}
        assert sorted(own) == sorted(
            [*(f"{name}-{rev}-b{k}" for k in range(3)), f"{name}-{rev}-final"]
        )
        assert set(own.values()) == {1}, own
    assert preempted
    assert messages(api, namespace, preempted[0], "Admitted"), "no Event of its readmission"


def test_a_gpu_forecast_is_admitted_through_a_gpu_flavor(
    api: client.ApiClient,
    control_plane: ControlPlane,
    queued_namespace: str,
    operator: KopfRunner,
) -> None:
    namespace = queued_namespace
    gpu_node = {"nvidia.com/gpu.present": "true"}
    quota = {"cpu": "1", "memory": "4Gi", "nvidia.com/gpu": "1"}
    apply_all(
        control_plane, queues(namespace, flavor="gpu-node", quota=quota, node_labels=gpu_node)
    )
    forecast = reduced("forecast")
    forecast["metadata"]["labels"] = {QUEUE_LABEL: "work"}
    forecast["spec"]["resources"]["gpu"] = 1
    apply(control_plane, namespace, forecast)

    def admission() -> dict[str, Any] | None:
        workloads = client.CustomObjectsApi(api).list_namespaced_custom_object(
            GROUP, VERSION, namespace, "workloads"
        )["items"]
        return next(
            (w["status"]["admission"] for w in workloads if "admission" in w.get("status", {})),
            None,
        )

    admitted = wait_for(admission, "Kueue to admit the forecast", 120)
    flavors = admitted["podSetAssignments"][0]["flavors"]
    assert flavors["nvidia.com/gpu"] == "gpu-node", admitted
    status = finished(api, namespace, "forecastruns", "eurusd-forecast", timeout=300)["status"]
    assert status["phase"] == "Succeeded" and len(status["predictions"]) == 30
