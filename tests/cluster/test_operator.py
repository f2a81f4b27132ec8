"""The operator on a real cluster: resources become Jobs whose pods run in containers on
the real node as the worker ServiceAccount (RBAC and the restricted profile enforced),
and results flow back into status."""

from __future__ import annotations

import collections
import contextlib
import copy
import json
import logging
import os
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import kopf
import pytest
from kopf.testing import KopfRunner
from kubernetes import client

from stratopt.api.v1alpha1 import OptimizationRunSpec
from stratopt.runtime import run_optimization
from stratopt.runtime.protocol import revision
from stratopt.runtime.stored import shard_input_name
from tests.cluster.conftest import apply, kubectl, report_page, wait_for
from tests.cluster.controlplane import ControlPlane, free_port
from tests.cluster.node import NODE_NAME, Node
from tests.test_examples import reduced

METRICS_PORT = free_port()
TERMINAL = ("Succeeded", "Failed")


@contextlib.contextmanager
def running_operator(namespace: str, credentials: Path) -> Iterator[KopfRunner]:
    """The operator in this process, logged in as the chart's operator ServiceAccount;
    its settings come from the environment when it starts, as in its Deployment."""
    settings = kopf.OperatorSettings()
    settings.watching.server_timeout = 10
    settings.execution.default_backoff = 1
    environment = {
        # Read by the operator's login handler.
        "KUBECONFIG": str(credentials),
        "STRATOPT_RESYNC_INTERVAL": "0.5",
        "STRATOPT_METRICS_PORT": str(METRICS_PORT),
    }
    before = {name: os.environ.get(name) for name in environment}
    os.environ.update(environment)
    refusals = _Refusals()
    logging.getLogger().addHandler(refusals)
    try:
        with KopfRunner(
            ["run", "--standalone", "-n", namespace, "-m", "stratopt.operator.handlers"],
            settings=settings,
            timeout=60,
        ) as runner:
            yield runner
    finally:
        for name, value in before.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        logging.getLogger().removeHandler(refusals)
    assert runner.exception is None, runner.output
    assert not refusals.messages, "the chart's ClusterRole lacks: " + "\n".join(refusals.messages)


class _Refusals(logging.Handler):
    """Collects log records of requests the API server refused (403)."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        if "forbidden" in message.lower():
            self.messages.append(message[:300])


@pytest.fixture()
def operator(namespace: str, operator_kubeconfig: Path, node: Node) -> Iterator[KopfRunner]:
    with running_operator(namespace, operator_kubeconfig) as runner:
        yield runner


def finished(
    api: client.ApiClient, namespace: str, plural: str, name: str, timeout: float = 240
) -> dict[str, Any]:

    def terminal() -> dict[str, Any] | None:
        body = resource(api, namespace, plural, name)
        status = body.get("status") or {}
        return body if status.get("phase") in TERMINAL else None

    result: dict[str, Any] = wait_for(terminal, f"{plural}/{name} to finish", timeout)
    return result


def test_optimization_run_matches_the_local_run(
    api: client.ApiClient,
    control_plane: ControlPlane,
    namespace: str,
    operator: KopfRunner,
) -> None:
    document = reduced("optimization-genetic")
    apply(control_plane, namespace, document)
    body = finished(api, namespace, "optimizationruns", "rsi-genetic")
    status = body["status"]
    assert status["phase"] == "Succeeded", status
    local = run_optimization(OptimizationRunSpec.model_validate(document["spec"])).status
    expected = local.model_dump(mode="json", by_alias=True, exclude_none=True)
    assert status["paretoFront"] == expected["paretoFront"]
    assert status["best"] == expected["best"] and status["progress"] == expected["progress"]
    assert status["robustness"] == expected["robustness"]
    assert status.get("warnings", []) == expected.get("warnings", [])
    assert status["observedGeneration"] == body["metadata"]["generation"]
    conditions = {c["type"]: c for c in status["conditions"]}
    assert conditions["Succeeded"]["status"] == "True"
    warned = bool(expected.get("warnings"))
    reason = "CompletedWithWarnings" if warned else "Completed"
    assert conditions["Succeeded"]["reason"] == reason
    assert conditions["Reconciling"]["status"] == "False"
    wait = kubectl(
        control_plane,
        "wait",
        "-n",
        namespace,
        "--for=condition=Succeeded",
        "optrun/rsi-genetic",
        "--timeout=10s",
    )
    assert "condition met" in wait.stdout
    row = kubectl(control_plane, "get", "optrun", "-n", namespace).stdout.splitlines()[1].split()
    assert row[1:4] == ["nsga2", "Succeeded", "100"]
    with urllib.request.urlopen(f"http://127.0.0.1:{METRICS_PORT}/metrics", timeout=5) as response:
        exposition = response.read().decode()
    assert 'stratopt_runs_finished_total{kind="OptimizationRun",phase="Succeeded"}' in exposition


def test_bad_data_fails_with_a_message_naming_the_field(
    api: client.ApiClient,
    control_plane: ControlPlane,
    namespace: str,
    operator: KopfRunner,
) -> None:
    document = reduced("optimization-genetic")
    document["metadata"]["name"] = "missing-data"
    document["spec"]["backtest"]["data"]["source"] = "/data/absent.csv"
    apply(control_plane, namespace, document)
    status = finished(api, namespace, "optimizationruns", "missing-data")["status"]
    assert status["phase"] == "Failed"
    failed = next(c for c in status["conditions"] if c["type"] == "Failed")
    assert failed["reason"] == "InvalidData"
    assert "spec.backtest.data.source: file not found" in failed["message"]
    jobs = client.BatchV1Api(api).list_namespaced_job(namespace).items
    assert len(jobs) == 1 and (jobs[0].status.failed or 0) == 1, "bad input must not be retried"


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("/var/run/secrets/kubernetes.io/serviceaccount/token", "local files may be read only"),
        ("/proc/self/environ", "local files may be read only"),
        ("http://169.254.169.254/latest/meta-data/", "the scheme 'http' is not allowed"),
        ("https://kubernetes.default.svc/api/v1/secrets", "its host is not a public address"),
    ],
    ids=["token", "environment", "metadata", "api-server"],
)
def test_a_spec_cannot_make_a_worker_read_its_secrets_or_internal_addresses(
    api: client.ApiClient,
    control_plane: ControlPlane,
    namespace: str,
    operator: KopfRunner,
    source: str,
    expected: str,
) -> None:
    document = reduced("feature-analysis")
    document["metadata"]["name"] = "probe"
    document["spec"]["data"]["source"] = source
    apply(control_plane, namespace, document)
    status = finished(api, namespace, "featureanalyses", "probe")["status"]
    assert status["phase"] == "Failed"
    failed = next(c for c in status["conditions"] if c["type"] == "Failed")
    assert failed["message"].startswith(f"spec.data.source: {expected}"), failed["message"]
    for secret in ("eyJ", "KUBERNETES_SERVICE", "PATH=", "ami-id", '"kind"'):
        assert secret not in failed["message"], failed["message"]


def test_feature_analysis_and_gpu_forecast(
    api: client.ApiClient,
    control_plane: ControlPlane,
    namespace: str,
    operator: KopfRunner,
    images: dict[str, Any],
) -> None:
    forecast = reduced("forecast")
    forecast["spec"]["resources"]["gpu"] = 1
    forecast["spec"].pop("features", None)
    forecast["spec"]["fromFeatureAnalysis"] = "eurusd-features"
    apply(control_plane, namespace, forecast)  # before its analysis: it must wait

    def waiting() -> bool:
        body = resource(api, namespace, "forecastruns", "eurusd-forecast")
        conditions = (body.get("status") or {}).get("conditions", [])
        return any(c["reason"] == "WaitingForFeatureAnalysis" for c in conditions)

    wait_for(waiting, "the forecast to wait for its FeatureAnalysis", 30)
    apply(control_plane, namespace, reduced("feature-analysis"))
    analysis = finished(api, namespace, "featureanalyses", "eurusd-features")["status"]
    assert analysis["phase"] == "Succeeded" and len(analysis["topFeatures"]) == 5
    result = finished(api, namespace, "forecastruns", "eurusd-forecast")["status"]
    assert result["phase"] == "Succeeded" and len(result["predictions"]) == 30
    assert result["features"] == analysis["topFeatures"]
    pods = (
        client.CoreV1Api(api)
        .list_namespaced_pod(namespace, label_selector="stratopt.io/run=eurusd-forecast")
        .items
    )
    assert pods and all(p.spec.node_name == NODE_NAME for p in pods)
    container = pods[0].spec.containers[0]
    assert container.resources.limits == {"nvidia.com/gpu": "1"}
    assert container.image == images["gpuWorker"]
    # An analysis of a market without an edge says that its model has no skill: in its
    # status, its Succeeded condition's reason and a Warning Event.
    noise = reduced("feature-analysis")
    noise["metadata"]["name"] = "noise-features"
    noise["spec"]["data"]["source"] = "synthetic:walk?bars=6000&freq=1h&seed=9"
    apply(control_plane, namespace, noise)
    unskilled = finished(api, namespace, "featureanalyses", "noise-features")["status"]
    assert unskilled["phase"] == "Succeeded"
    assert unskilled["warnings"][0].startswith("the model has no skill: its out-of-sample")
    succeeded = next(c for c in unskilled["conditions"] if c["type"] == "Succeeded")
    assert succeeded["reason"] == "CompletedWithWarnings"
    assert "the model has no skill" in succeeded["message"]

    def warned() -> bool:
        events = client.CoreV1Api(api).list_namespaced_event(
            namespace, field_selector="involvedObject.name=noise-features"
        )
        return any(
            e.type == "Warning" and "the model has no skill" in (e.message or "")
            for e in events.items
        )

    wait_for(warned, "a Warning Event saying the analysis has no skill", 30)


def test_gpu_forecast_no_node_can_take_stays_pending_and_says_why(
    api: client.ApiClient,
    control_plane: ControlPlane,
    namespace: str,
    operator: KopfRunner,
) -> None:
    forecast = reduced("forecast")
    forecast["metadata"]["name"] = "too-many-gpus"
    forecast["spec"]["resources"]["gpu"] = 8  # the node advertises 2
    apply(control_plane, namespace, forecast)

    def stalled() -> dict[str, Any] | None:
        body = resource(api, namespace, "forecastruns", "too-many-gpus")
        conditions = {c["type"]: c for c in (body.get("status") or {}).get("conditions", [])}
        stall = conditions.get("Stalled")
        return stall if stall and stall["status"] == "True" else None

    condition = wait_for(stalled, "a Stalled condition", 60)
    assert condition["reason"] == "Unschedulable"
    assert "Insufficient nvidia.com/gpu" in condition["message"], condition
    body = resource(api, namespace, "forecastruns", "too-many-gpus")
    assert body["status"]["phase"] == "Pending"


def distributed_example(name: str) -> dict[str, Any]:
    document = reduced("optimization-genetic")
    document["metadata"]["name"] = name
    document["spec"]["algorithm"]["nsga2"] = {"populationSize": 20, "generations": 3}
    document["spec"]["execution"] = {"mode": "distributed", "shardSize": 8, "parallelism": 2}
    return document


def finished_watching(
    api: client.ApiClient, namespace: str, name: str, timeout: float = 300
) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    """The finished run, and each of its Jobs and pods as last seen while it ran: a
    succeeded run keeps only its last Job and pod (its batches end as their pods store
    their results, often before their Jobs say so)."""
    jobs: dict[str, Any] = {}
    pods: dict[str, Any] = {}
    selector = f"stratopt.io/run={name}"

    def watched() -> dict[str, Any] | None:
        for job in (
            client.BatchV1Api(api).list_namespaced_job(namespace, label_selector=selector).items
        ):
            jobs[job.metadata.name] = job
        for pod in (
            client.CoreV1Api(api).list_namespaced_pod(namespace, label_selector=selector).items
        ):
            pods[pod.metadata.name] = pod
        body = resource(api, namespace, "optimizationruns", name)
        return body if (body.get("status") or {}).get("phase") in TERMINAL else None

    return wait_for(watched, f"{name} to finish", timeout), jobs, pods


def compacted(api: client.ApiClient, namespace: str, name: str, rev: str) -> int | None:
    """The bytes (as JSON, an upper bound of etcd's encoding) the finished run keeps: its
    resource, its ConfigMaps, its Jobs and their pods; None while more than its result
    and evaluations ConfigMaps and its finalize Job and pod are left."""
    core, batch = client.CoreV1Api(api), client.BatchV1Api(api)
    selector = f"stratopt.io/run={name}"
    maps = core.list_namespaced_config_map(namespace, label_selector=selector).items
    jobs = batch.list_namespaced_job(namespace, label_selector=selector).items
    pods = core.list_namespaced_pod(namespace, label_selector=selector).items
    if {m.metadata.name for m in maps} != {f"{name}-{rev}-result", f"{name}-{rev}-evaluations"}:
        return None
    final = f"{name}-{rev}-final"
    if [j.metadata.name for j in jobs] != [final]:
        return None
    if {p.metadata.labels.get("job-name") for p in pods} != {final}:
        return None
    serialized = [api.sanitize_for_serialization(o) for o in (*maps, *jobs, *pods)]
    serialized.append(resource(api, namespace, "optimizationruns", name))
    return sum(len(json.dumps(o)) for o in serialized)


def _local_status(document: dict[str, Any]) -> dict[str, Any]:
    spec = OptimizationRunSpec.model_validate(copy.deepcopy(document["spec"]))
    status: dict[str, Any] = run_optimization(spec).status.model_dump(
        mode="json", by_alias=True, exclude_none=True
    )
    return status


def resource(api: client.ApiClient, namespace: str, plural: str, name: str) -> dict[str, Any]:
    body: dict[str, Any] = client.CustomObjectsApi(api).get_namespaced_custom_object(
        "stratopt.io", "v1alpha1", namespace, plural, name
    )
    return body


def revision_of(api: client.ApiClient, namespace: str, name: str) -> str:
    body = resource(api, namespace, "optimizationruns", name)
    return revision(body["spec"])


def batch_jobs(api: client.ApiClient, namespace: str, batch: int) -> list[Any]:
    selector = f"stratopt.io/batch={batch}"
    jobs: list[Any] = (
        client.BatchV1Api(api).list_namespaced_job(namespace, label_selector=selector).items
    )
    return jobs


def jobs_created(plane: ControlPlane, namespace: str) -> collections.Counter[str]:
    """How many times each Job of ``namespace`` was created, as the audit log says."""
    return collections.Counter(
        entry["objectRef"]["name"]
        for entry in plane.audited()
        if entry["verb"] == "create"
        and entry["objectRef"]["resource"] == "jobs"
        and entry["objectRef"].get("namespace") == namespace
        and entry.get("responseStatus", {}).get("code") == 201
    )


def _assert_one_job_per_batch(
    plane: ControlPlane, api: client.ApiClient, namespace: str, name: str
) -> None:
    """Three batch Jobs and the finalize Job, each created once (the API server's audit
    log says): nothing duplicated or lost. The finished run keeps its finalize Job."""
    rev = revision_of(api, namespace, name)
    created = jobs_created(plane, namespace)
    expected = [f"{name}-{rev}-b{k}" for k in range(3)] + [f"{name}-{rev}-final"]
    assert sorted(created) == sorted(expected), "a Job was lost"
    assert set(created.values()) == {1}, f"a Job was created twice: {created}"
    jobs = client.BatchV1Api(api).list_namespaced_job(namespace).items
    assert [j.metadata.name for j in jobs] == [f"{name}-{rev}-final"]


def _assert_same_result(status: dict[str, Any], expected: dict[str, Any]) -> None:
    for key in ("paretoFront", "best", "picks", "progress", "diagnostics", "robustness"):
        assert status[key] == expected[key], key
    # The run's checks of its own answer say the same on the cluster as here.
    assert status.get("warnings", []) == expected.get("warnings", [])


def test_distributed_run_uses_indexed_jobs_per_generation_and_matches_local(
    api: client.ApiClient,
    control_plane: ControlPlane,
    namespace: str,
    operator: KopfRunner,
    tmp_path: Path,
) -> None:
    document = distributed_example("rsi-distributed")
    apply(control_plane, namespace, document)
    body, seen, _ = finished_watching(api, namespace, "rsi-distributed")
    status = body["status"]
    assert status["phase"] == "Succeeded", status
    _assert_same_result(status, _local_status(document))
    # Its report holds every evaluation, kept when the run was compacted.
    assert status["evaluationsKept"] == status["progress"]["evaluationsCompleted"]
    page = report_page(control_plane, namespace, "optrun/rsi-distributed", tmp_path)
    assert f"{status['progress']['evaluationsCompleted']} evaluations; drag" in page
    rev = revision_of(api, namespace, "rsi-distributed")
    batches = [f"rsi-distributed-{rev}-b{k}" for k in range(3)]
    assert sorted(seen) == sorted([*batches, f"rsi-distributed-{rev}-final"])
    for name in batches:
        spec = seen[name].spec
        assert (spec.completion_mode, spec.completions, spec.parallelism) == ("Indexed", 3, 2)
    footprint = wait_for(
        lambda: compacted(api, namespace, "rsi-distributed", rev), "the run compacted", 30
    )
    assert footprint <= 256 * 1024, f"a finished run keeps {footprint} bytes in etcd"


def test_operator_restart_mid_run_finishes_with_the_same_status(
    api: client.ApiClient,
    control_plane: ControlPlane,
    namespace: str,
    operator_kubeconfig: Path,
    node: Node,
) -> None:
    document = distributed_example("rsi-restart")
    with running_operator(namespace, operator_kubeconfig):
        apply(control_plane, namespace, document)
        wait_for(lambda: batch_jobs(api, namespace, 1), "the second generation's Job", 120)
    with running_operator(namespace, operator_kubeconfig):
        status = finished(api, namespace, "optimizationruns", "rsi-restart")["status"]
    assert status["phase"] == "Succeeded"
    _assert_same_result(status, _local_status(document))
    _assert_one_job_per_batch(control_plane, api, namespace, "rsi-restart")


def test_results_that_differ_from_their_inputs_fail_the_run_saying_where(
    api: client.ApiClient,
    control_plane: ControlPlane,
    namespace: str,
    operator: KopfRunner,
) -> None:
    """A stored batch no longer what the search asks (as after a library upgrade in the
    middle of a run) is never paired with the search's parameters: the run fails."""
    document = distributed_example("rsi-mismatch")
    apply(control_plane, namespace, document)
    wait_for(lambda: batch_jobs(api, namespace, 1), "the second generation's Job", 120)
    core = client.CoreV1Api(api)
    name = shard_input_name("rsi-mismatch", revision_of(api, namespace, "rsi-mismatch"), 0, 0)
    shard = json.loads(core.read_namespaced_config_map(name, namespace).data["shard-0"])
    first = next(iter(shard[1]))
    shard[1][first] += 1
    core.patch_namespaced_config_map(name, namespace, {"data": {"shard-0": json.dumps(shard)}})
    status = finished(api, namespace, "optimizationruns", "rsi-mismatch")["status"]
    assert status["phase"] == "Failed", status
    failed = next(c for c in status["conditions"] if c["type"] == "Failed")
    assert failed["reason"] == "ReplayMismatch", failed
    assert "batch 0, evaluation 1: evaluated with" in failed["message"], failed
    assert "paretoFront" not in status


def test_spec_change_restarts_and_deletion_leaves_nothing(
    api: client.ApiClient,
    control_plane: ControlPlane,
    namespace: str,
    operator: KopfRunner,
) -> None:
    document = distributed_example("rsi-change")
    apply(control_plane, namespace, document)
    batch = client.BatchV1Api(api)
    wait_for(lambda: batch.list_namespaced_job(namespace).items, "the first Job", 60)
    document["spec"]["seed"] = 7
    apply(control_plane, namespace, document)
    custom = client.CustomObjectsApi(api)

    def second_generation_done() -> dict[str, Any] | None:
        body = resource(api, namespace, "optimizationruns", "rsi-change")
        status = body.get("status") or {}
        done = status.get("observedGeneration") == 2 and status.get("phase") == "Succeeded"
        return body if done else None

    body = wait_for(second_generation_done, "the restarted run to finish", 240)
    _assert_same_result(body["status"], _local_status(document))
    rev = revision_of(api, namespace, "rsi-change")
    assert body["status"]["revision"] == rev
    assert all(
        j.metadata.labels["stratopt.io/revision"] == rev
        for j in batch.list_namespaced_job(namespace).items
    ), "old Jobs must go"
    core = client.CoreV1Api(api)
    events = core.list_namespaced_event(
        namespace, field_selector="involvedObject.name=rsi-change"
    ).items
    assert [e.reason for e in events].count("Restarted") == 1, [e.reason for e in events]
    # Two revisions' Jobs (batches and finalize steps) came from one set of permissions.
    created = [
        entry["objectRef"]["resource"]
        for entry in control_plane.audited()
        if entry["verb"] == "create"
        and entry["objectRef"].get("namespace") == namespace
        and entry["objectRef"].get("name") == "stratopt-worker"
    ]
    assert sorted(created) == ["rolebindings", "roles", "serviceaccounts"], created

    custom.delete_namespaced_custom_object(
        "stratopt.io", "v1alpha1", namespace, "optimizationruns", "rsi-change"
    )
    core = client.CoreV1Api(api)

    def nothing_left() -> bool:
        owned = [
            cm
            for cm in core.list_namespaced_config_map(namespace).items
            if cm.metadata.labels and "stratopt.io/run" in cm.metadata.labels
        ]
        return not (
            batch.list_namespaced_job(namespace).items
            or owned
            or core.list_namespaced_pod(namespace).items
        )

    wait_for(nothing_left, "Jobs, pods and ConfigMaps to be collected", 120)


def test_suspend_stops_the_job_and_resume_finishes_the_same_run(
    api: client.ApiClient,
    control_plane: ControlPlane,
    namespace: str,
    operator: KopfRunner,
) -> None:
    document = distributed_example("rsi-suspend")
    apply(control_plane, namespace, document)
    wait_for(lambda: batch_jobs(api, namespace, 1), "the second generation's Job", 120)
    document["spec"]["suspend"] = True
    apply(control_plane, namespace, document)
    core = client.CoreV1Api(api)

    def run() -> dict[str, Any]:
        return resource(api, namespace, "optimizationruns", "rsi-suspend")

    wait_for(lambda: (run().get("status") or {}).get("phase") == "Suspended", "Suspended", 60)
    wait_for(
        lambda: (
            not core.list_namespaced_pod(namespace, field_selector="status.phase=Running").items
        ),
        "the suspended Job's pods to go",
        # Well inside the 30 s grace period: the workers exit on SIGTERM.
        10,
    )
    jobs_when_suspended = {
        j.metadata.name for j in client.BatchV1Api(api).list_namespaced_job(namespace).items
    }
    time.sleep(3)  # several reconcile intervals: a suspended run must not move
    jobs = client.BatchV1Api(api).list_namespaced_job(namespace).items
    assert {j.metadata.name for j in jobs} == jobs_when_suspended
    unfinished = [j for j in jobs if not j.status.completion_time]
    assert unfinished and all(j.spec.suspend for j in unfinished)
    status = run()["status"]
    assert status["phase"] == "Suspended", (status, [j.status for j in jobs])

    document["spec"]["suspend"] = False
    apply(control_plane, namespace, document)
    body = finished(api, namespace, "optimizationruns", "rsi-suspend")
    assert body["status"]["phase"] == "Succeeded"
    assert body["status"]["observedGeneration"] == body["metadata"]["generation"] == 3
    _assert_same_result(body["status"], _local_status(document))
    _assert_one_job_per_batch(control_plane, api, namespace, "rsi-suspend")
    events = core.list_namespaced_event(
        namespace, field_selector="involvedObject.name=rsi-suspend"
    ).items
    reasons = {e.reason for e in events}
    for milestone in ("Started", "BatchStarted", "Suspended", "Resumed", "Succeeded"):
        assert milestone in reasons, reasons


def test_a_worker_killed_mid_shard_is_retried_alone(
    api: client.ApiClient,
    control_plane: ControlPlane,
    namespace: str,
    operator: KopfRunner,
    node: Node,
) -> None:
    document = distributed_example("rsi-retry")
    apply(control_plane, namespace, document)
    core = client.CoreV1Api(api)

    def second_shard_of_second_batch() -> str | None:
        pods = core.list_namespaced_pod(namespace, label_selector="stratopt.io/batch=1").items
        return next(
            (
                p.metadata.name
                for p in pods
                if p.metadata.annotations.get("batch.kubernetes.io/job-completion-index") == "1"
            ),
            None,
        )

    pod = wait_for(second_shard_of_second_batch, "the second batch's second shard", 180)
    container = wait_for(
        lambda: (
            node.crictl("ps", "--quiet", "--label", f"io.kubernetes.pod.name={pod}")
            .stdout.strip()
            .splitlines()
        ),
        f"{pod}'s container to start",
        60,
    )[0]
    node.kill_container(container)

    def killed() -> Any:
        found = core.read_namespaced_pod(pod, namespace).status.container_statuses[0].state
        return found.terminated

    assert wait_for(killed, f"{pod} to end", 60).exit_code == 137
    body, _, pods = finished_watching(api, namespace, "rsi-retry")
    status = body["status"]
    assert status["phase"] == "Succeeded", status
    _assert_same_result(status, _local_status(document))
    # Each shard's pods, as seen while the run went: only the killed one ran again.
    runs: dict[tuple[str, str], int] = collections.Counter(
        (each.metadata.labels["stratopt.io/batch"], index)
        for each in pods.values()
        if each.metadata.labels.get("stratopt.io/batch") is not None
        and (index := each.metadata.annotations["batch.kubernetes.io/job-completion-index"])
    )
    assert runs == {(b, i): 2 if (b, i) == ("1", "1") else 1 for b in "012" for i in "012"}, runs


def test_single_mode_reports_progress_while_its_pod_works(
    api: client.ApiClient,
    control_plane: ControlPlane,
    namespace: str,
    operator: KopfRunner,
) -> None:
    document = reduced("optimization-genetic")
    document["metadata"]["name"] = "rsi-progress"
    document["spec"]["algorithm"]["nsga2"] = {"populationSize": 20, "generations": 150}
    document["spec"]["execution"] = {"mode": "single"}
    apply(control_plane, namespace, document)

    def midway() -> dict[str, Any] | None:
        body = resource(api, namespace, "optimizationruns", "rsi-progress")
        status = body.get("status") or {}
        progress = status.get("progress") or {}
        done = progress.get("evaluationsCompleted", 0)
        running = status.get("phase") == "Running"
        return progress if running and 0 < done < progress["evaluationsTotal"] else None

    progress = wait_for(midway, "progress from the running pod", 120)
    assert progress["evaluationsTotal"] == 3000 and progress["batchesCompleted"] >= 1
    status = finished(api, namespace, "optimizationruns", "rsi-progress")["status"]
    assert status["phase"] == "Succeeded"
    assert status["progress"]["evaluationsCompleted"] > progress["evaluationsCompleted"]


def test_walk_forward_folds_run_as_the_indexes_of_one_job(
    api: client.ApiClient,
    control_plane: ControlPlane,
    namespace: str,
    operator: KopfRunner,
) -> None:
    document = reduced("walk-forward")
    document["spec"]["execution"] = {"mode": "distributed", "shardSize": 6, "parallelism": 2}
    apply(control_plane, namespace, document)
    name = document["metadata"]["name"]
    body, jobs, _ = finished_watching(api, namespace, name)
    status = body["status"]
    assert status["phase"] == "Succeeded", status
    expected = _local_status(document)
    _assert_same_result(status, expected)
    assert status["walkForward"] == expected["walkForward"]
    folds = len(expected["walkForward"]["folds"])
    job = jobs[f"{name}-{revision_of(api, namespace, name)}-folds"]
    assert (job.spec.completion_mode, job.spec.completions) == ("Indexed", folds)
