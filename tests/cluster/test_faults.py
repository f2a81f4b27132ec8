"""Faults of the cluster under a run, each ending with the status of the same run
undisturbed (its local twin: the same seed gives the same answer on a cluster and here).

Each fault hits three runs at once, mid-run: a single-mode NSGA-II (its pod at work), a
distributed NSGA-II and a distributed Bayesian search with two points a batch (each
past its first batch). Faults are real: processes of the control plane or the node
stopped by PID and started again with their data, a pod evicted through the API as a
drain does, a worker OOM-killed by its memory limit (lowered under it, at work), a
stored result deleted by hand (its batch runs again). After each: every
run succeeded with its twin's front, best, picks, diagnostics and evaluation count; no
pod runs and no Job is left unfinished; and the operator (a process of its own, JSON
logs) logged no error but those the fault explains.
"""

from __future__ import annotations

import contextlib
import copy
import os
import signal
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client

from stratopt.runtime.stored import shard_result_name
from tests.cluster.conftest import apply
from tests.cluster.controlplane import ControlPlane
from tests.cluster.leftovers import Ledger
from tests.cluster.node import Node
from tests.cluster.operator_process import OperatorProcess, operator_process
from tests.cluster.test_operator import (
    _assert_same_result,
    _local_status,
    distributed_example,
    finished,
    revision_of,
)
from tests.cluster.waiting import wait_for
from tests.test_examples import reduced

SEARCHES = ("nsga2", "bayesian")
#: The outage of the control plane's faults, as the matrix asks.
OUTAGE_SECONDS = 30


def runs() -> dict[str, dict[str, Any]]:
    single = reduced("optimization-genetic")
    single["metadata"]["name"] = "single"
    single["spec"]["algorithm"]["nsga2"] = {"populationSize": 40, "generations": 12}
    single["spec"]["execution"] = {"mode": "single"}
    nsga2 = distributed_example("nsga2")
    bayesian = reduced("optimization-bayesian")
    bayesian["metadata"]["name"] = "bayesian"
    bayesian["spec"]["algorithm"]["bayesian"].update(iterations=8, initialPoints=4, batchSize=2)
    bayesian["spec"]["execution"] = {"mode": "distributed", "shardSize": 1, "parallelism": 2}
    return {"single": single, "nsga2": nsga2, "bayesian": bayesian}


@pytest.fixture(scope="module")
def twins() -> dict[str, dict[str, Any]]:
    """Each run's undisturbed status, computed here once."""
    return {name: _local_status(copy.deepcopy(document)) for name, document in runs().items()}


def searches_under_way(api: client.ApiClient, namespace: str) -> bool:
    """Each distributed search has its second batch's Job."""
    names = [j.metadata.name for j in client.BatchV1Api(api).list_namespaced_job(namespace).items]
    return all(
        any(n.startswith(f"{run}-") and n.endswith("-b1") for n in names) for run in SEARCHES
    )


def single_under_way(api: client.ApiClient, namespace: str) -> bool:
    jobs = client.BatchV1Api(api).list_namespaced_job(namespace).items
    return any(j.metadata.name.startswith("single-") and (j.status.active or 0) for j in jobs)


def stop_for(plane: ControlPlane, ledger: Ledger, *names: str) -> None:
    for name in names:
        plane.halt(name)
    time.sleep(OUTAGE_SECONDS)
    for name in reversed(names):
        ledger.process(plane.resume(name))


def restart(node: Node, ledger: Ledger, *names: str) -> None:
    for name in names:
        node.halt(name)
    time.sleep(2)
    for name in reversed(names):
        ledger.process(node.resume(name))


def running_workers(api: client.ApiClient, namespace: str, selector: str) -> list[Any]:
    """The running pods that ``selector`` matches."""
    pods: list[Any] = (
        client.CoreV1Api(api)
        .list_namespaced_pod(
            namespace, label_selector=selector, field_selector="status.phase=Running"
        )
        .items
    )
    return pods


def workers_at_work(api: client.ApiClient, namespace: str, selector: str) -> list[Any]:
    """The running pods that ``selector`` matches whose container has started."""
    return [
        p
        for p in running_workers(api, namespace, selector)
        if p.status.container_statuses and p.status.container_statuses[0].state.running
    ]


def evict(api: client.ApiClient, namespace: str, name: str) -> None:
    """Pod ``name`` evicted through the API, as a drain does."""
    client.CoreV1Api(api).create_namespaced_pod_eviction(
        name,
        namespace,
        client.V1Eviction(metadata=client.V1ObjectMeta(name=name, namespace=namespace)),
    )


def oom_kill(node: Node, pod: Any) -> None:
    node.oom_kill(pod.status.container_statuses[0].container_id.removeprefix("containerd://"))


def evict_a_worker(api: client.ApiClient, namespace: str) -> None:
    running = running_workers(api, namespace, "stratopt.io/run=nsga2")
    assert running, "no worker pod of the distributed run is running"
    evict(api, namespace, running[0].metadata.name)


def delete_a_result(api: client.ApiClient, namespace: str) -> None:
    """The stored result of the distributed run's first batch, deleted by hand."""
    name = shard_result_name("nsga2", revision_of(api, namespace, "nsga2"), 0, 0)
    client.CoreV1Api(api).delete_namespaced_config_map(name, namespace)


def node_restarts(node: Node, ledger: Ledger) -> None:
    """The kubelet restarted, then containerd, then both (a node's services rebooted;
    its containers run on through each)."""
    restart(node, ledger, "kubelet")
    time.sleep(5)
    restart(node, ledger, "containerd")
    time.sleep(5)
    restart(node, ledger, "kubelet", "containerd")


def oom_killed(api: client.ApiClient, namespace: str, node: Node) -> None:
    """The single run's worker OOM-killed by its memory limit; its Job runs it again."""
    core = client.CoreV1Api(api)
    pods = wait_for(
        lambda: workers_at_work(api, namespace, "stratopt.io/run=single"),
        "the single run's worker at work",
        60,
    )
    pod = pods[0]
    oom_kill(node, pod)

    def terminated() -> Any:
        found = core.read_namespaced_pod(pod.metadata.name, namespace).status
        state = (found.container_statuses or [None])[0]
        return None if state is None else state.state.terminated or (state.last_state.terminated)

    ended = wait_for(terminated, "the worker to be OOM-killed", 120)
    assert ended.reason == "OOMKilled", ended


def workload_faults(api: client.ApiClient, namespace: str) -> None:
    """A worker evicted through the API, as a drain does; then a stored result deleted."""
    evict_a_worker(api, namespace)
    delete_a_result(api, namespace)


def replace_operator(faulted: dict[str, Any], log: str) -> OperatorProcess:
    """The newest operator SIGKILLed, and a successor started, logging to ``log``."""
    killed = faulted["operators"][-1]
    os.kill(killed.process.pid, signal.SIGKILL)
    killed.process.wait()
    successor: OperatorProcess = faulted["stack"].enter_context(
        operator_process(
            faulted["namespace"],
            faulted["credentials"],
            faulted["ledger"],
            faulted["workdir"],
            log=log,
        )
    )
    faulted["operators"].append(successor)
    return successor


def operator_killed_twice(faulted: dict[str, Any]) -> None:
    """The operator SIGKILLed mid-run, and its successor as soon as it acts (writing a
    status, creating a Job); the third carries the runs to their end."""
    second = replace_operator(faulted, "operator-2.log")
    wait_for(lambda: any(r.get("object") for r in second.records()), "the operator to act", 60)
    replace_operator(faulted, "operator-3.log")


def fault_context(
    plane: ControlPlane,
    node: Node,
    ledger: Ledger,
    api: client.ApiClient,
    namespace: str,
    credentials: Path,
    workdir: Path,
    operator: OperatorProcess,
    stack: contextlib.ExitStack[Any],
) -> dict[str, Any]:
    """What a fault injector may reach: the cluster's parts, and the operators so far."""
    return {
        "plane": plane,
        "node": node,
        "ledger": ledger,
        "api": api,
        "namespace": namespace,
        "credentials": credentials,
        "workdir": workdir,
        "operators": [operator],
        "stack": stack,
    }


def unfinished_jobs(api: client.ApiClient, namespace: str) -> list[Any]:
    """The Jobs of ``namespace`` not complete (running, retrying or failed)."""
    jobs = client.BatchV1Api(api).list_namespaced_job(namespace).items
    return [j for j in jobs if not j.status.completion_time]


#: What the reconciles that fail while the control plane is down log (kopf's own retries
#: of its requests are warnings).
OUTAGE = ("reconciling failed",)
#: The faults that fail the operator's reconciles for their whole length. With etcd
#: alone stopped, the API server holds each request until etcd is back, within the
#: operator's 60 s read timeout: the reconciles wait rather than fail, and there is no
#: outage to tell.
API_SERVER_DOWN = ("api-server-down-30s", "api-server-and-etcd-down-30s")
#: Each fault, and the operator's log errors it explains (a substring of the message).
FAULTS: dict[str, tuple[Callable[[dict[str, Any]], None], tuple[str, ...]]] = {
    "api-server-down-30s": (lambda c: stop_for(c["plane"], c["ledger"], "kube-apiserver"), OUTAGE),
    "etcd-restarted": (lambda c: stop_for(c["plane"], c["ledger"], "etcd"), OUTAGE),
    "api-server-and-etcd-down-30s": (
        lambda c: stop_for(c["plane"], c["ledger"], "kube-apiserver", "etcd"),
        OUTAGE,
    ),
    "kubelet-and-containerd-restarted": (lambda c: node_restarts(c["node"], c["ledger"]), ()),
    "operator-killed-twice": (operator_killed_twice, ()),
    "worker-oom-killed": (lambda c: oom_killed(c["api"], c["namespace"], c["node"]), ()),
    "worker-evicted-and-result-deleted": (
        lambda c: workload_faults(c["api"], c["namespace"]),
        (),
    ),
}


@pytest.mark.parametrize("fault", sorted(FAULTS))
def test_a_run_hit_by_a_fault_ends_with_its_undisturbed_answer(
    fault: str,
    api: client.ApiClient,
    control_plane: ControlPlane,
    node: Node,
    ledger: Ledger,
    namespace: str,
    cli_operator: OperatorProcess,
    operator_kubeconfig: Path,
    workdir: Path,
    twins: dict[str, dict[str, Any]],
) -> None:
    inject, explained = FAULTS[fault]
    with contextlib.ExitStack() as stack:
        faulted = fault_context(
            control_plane,
            node,
            ledger,
            api,
            namespace,
            operator_kubeconfig,
            workdir,
            cli_operator,
            stack,
        )
        check_fault(fault, inject, explained, faulted, twins)


def check_fault(
    fault: str,
    inject: Callable[[dict[str, Any]], None],
    explained: tuple[str, ...],
    faulted: dict[str, Any],
    twins: dict[str, dict[str, Any]],
) -> None:
    api, plane, namespace = faulted["api"], faulted["plane"], faulted["namespace"]
    documents = runs()
    for name in SEARCHES:
        apply(plane, namespace, documents[name])
    wait_for(lambda: searches_under_way(api, namespace), "the searches' second batches", 180)
    # The single run last, so that it is still under way however fast the searches go.
    apply(plane, namespace, documents["single"])
    wait_for(lambda: single_under_way(api, namespace), "the single run's pod", 120)
    inject(faulted)
    for name, twin in twins.items():
        status = finished(api, namespace, "optimizationruns", name, timeout=420)["status"]
        assert status["phase"] == "Succeeded", (fault, name, status.get("conditions"))
        _assert_same_result(status, twin)
    core = client.CoreV1Api(api)
    wait_for(
        lambda: (
            not core.list_namespaced_pod(namespace, field_selector="status.phase=Running").items
        ),
        "no pod left running",
        60,
    )

    # A run reports its stored result at once; its last Job completes a moment later.
    def unfinished() -> list[str]:
        return [f"{j.metadata.name}: {j.status}" for j in unfinished_jobs(api, namespace)]

    try:
        wait_for(lambda: not unfinished(), "every Job to be complete", 60)
    except AssertionError:
        pods = core.list_namespaced_pod(namespace).items
        raise AssertionError(
            (unfinished(), [(p.metadata.name, p.status.phase) for p in pods])
        ) from None
    if fault in API_SERVER_DOWN:  # once Events can be written, they say why runs waited
        events = core.list_namespaced_event(namespace, field_selector="reason=Recovered").items
        assert any("could not be reconciled for" in e.message for e in events), [
            (e.involved_object.name, e.message) for e in events
        ]
    unexplained = [
        record
        for operator in faulted["operators"]
        for record in operator.records()
        if record.get("severity") in ("error", "fatal")
        and not any(word in str(record.get("message")) for word in explained)
    ]
    assert not unexplained, unexplained
