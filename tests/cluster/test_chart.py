"""The Helm chart on the real node: ``helm install`` with the locally built images runs the
operator as the chart's Deployment in a container, under its own ServiceAccount and the
restricted Pod Security profile; every example applied with kubectl then succeeds with
the status ``stratopt run`` prints, a deleted operator pod loses nothing, and the metrics
Service answers over the pod network."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import pytest
import yaml
from kubernetes import client

from tests.cluster.conftest import RESTRICTED, apply, kubectl, report_page, wait_for
from tests.cluster.controlplane import ControlPlane
from tests.cluster.node import Node
from tests.cluster.test_operator import (
    _assert_one_job_per_batch,
    _assert_same_result,
    _local_status,
    batch_jobs,
    distributed_example,
    finished,
)
from tests.conftest import EXAMPLES
from tests.test_cli import stratopt
from tests.test_examples import reduced

EXAMPLE_NAMES = sorted(
    path.stem for path in EXAMPLES.glob("*.yaml") if not path.name.endswith(".expect.yaml")
)
RELEASE = "chart"
RELEASE_NAMESPACE = "stratopt-chart"
DEPLOYMENT = f"{RELEASE}-operator"
METRICS_PORT = 8080
#: Status fields that record the run's life on a cluster or a wall time, not its result.
UNCOMPARED = {
    "conditions",
    "observedGeneration",
    "revision",
    "startTime",
    "completionTime",
    "trainingSeconds",
}


def helm(plane: ControlPlane, *args: str) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        [str(plane.bin / "helm"), f"--kubeconfig={plane.kubeconfig}", *args],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done


def _image(reference: str) -> tuple[str, str]:
    repository, _, tag = reference.rpartition(":")
    return repository, tag


@pytest.fixture()
def installed_operator(
    api: client.ApiClient,
    control_plane: ControlPlane,
    namespace: str,
    crds: list[str],
    node: Node,
    images: dict[str, Any],
) -> Iterator[str]:
    """``helm install`` of charts/stratopt watching ``namespace``; uninstalled after."""
    repository, tag = _image(images["operator"])
    values = {
        "image": {"repository": repository, "tag": tag, "pullPolicy": "Never"},
        "workerImage": images["worker"],
        "gpuWorkerImage": images["gpuWorker"],
        "workerImagePullPolicy": "Never",
        "workerResources": {"requests": {"cpu": "100m", "memory": "256Mi"}},
        "watchNamespaces": [namespace],
        "resyncInterval": 0.5,
        "metrics": {"port": METRICS_PORT},
    }
    values_file = control_plane.workdir / "chart-values.yaml"
    values_file.write_text(yaml.safe_dump(values))
    kubectl(control_plane, "create", "namespace", RELEASE_NAMESPACE)
    kubectl(control_plane, "label", "namespace", RELEASE_NAMESPACE, *RESTRICTED)
    try:
        helm(
            control_plane,
            "install",
            RELEASE,
            str(EXAMPLES.parent / "charts" / "stratopt"),
            f"--namespace={RELEASE_NAMESPACE}",
            f"--values={values_file}",
            "--wait",
            "--timeout=120s",
        )
        yield DEPLOYMENT
    finally:
        helm(control_plane, "uninstall", RELEASE, f"--namespace={RELEASE_NAMESPACE}", "--wait")
        kubectl(control_plane, "delete", "namespace", RELEASE_NAMESPACE, "--wait=true")


def operator_pods(api: client.ApiClient) -> list[client.V1Pod]:
    pods: list[client.V1Pod] = (
        client.CoreV1Api(api)
        .list_namespaced_pod(
            RELEASE_NAMESPACE, label_selector="app.kubernetes.io/component=operator"
        )
        .items
    )
    return pods


def operator_log(api: client.ApiClient) -> str:
    core = client.CoreV1Api(api)
    return "".join(
        core.read_namespaced_pod_log(p.metadata.name, RELEASE_NAMESPACE) for p in operator_pods(api)
    )


def local_run(document: dict[str, Any], workdir: Any) -> dict[str, Any]:
    """What ``stratopt run`` prints for the same document."""
    path = workdir / f"{document['metadata']['name']}.yaml"
    path.write_text(yaml.safe_dump(document))
    done = stratopt("run", str(path), "-o", "json")
    assert done.returncode == 0, done.stderr
    status: dict[str, Any] = json.loads(done.stdout)
    return status


def test_chart_operator_runs_every_example_like_stratopt_run(
    api: client.ApiClient,
    control_plane: ControlPlane,
    namespace: str,
    installed_operator: str,
    tmp_path: Any,
) -> None:
    (pod,) = operator_pods(api)
    assert pod.spec.service_account_name == installed_operator
    running = pod.status.container_statuses[0]
    assert running.ready and running.container_id.startswith("containerd://")
    documents = [reduced(name) for name in EXAMPLE_NAMES]
    for document in documents:
        apply(control_plane, namespace, document)
    plurals = {"OptimizationRun": "optimizationruns", "FeatureAnalysis": "featureanalyses"}
    plurals["ForecastRun"] = "forecastruns"
    for document in documents:
        kind, name = document["kind"], document["metadata"]["name"]
        body = finished(api, namespace, plurals[kind], name, timeout=600)
        if body["status"]["phase"] != "Succeeded":
            pytest.fail(f"{kind}/{name}: {body['status']}\n{operator_log(api)[-3000:]}")
        local = local_run(document, tmp_path)
        for key in set(local) - UNCOMPARED:
            assert body["status"].get(key) == local[key], f"{kind}/{name}: {key} differs"
        short = {"OptimizationRun": "optrun", "FeatureAnalysis": "fa"}.get(kind, "fcrun")
        page = report_page(control_plane, namespace, f"{short}/{name}", tmp_path)
        headings = re.findall(r"<h2>(.*?)</h2>", page)
        if local.get("warnings"):  # what to distrust comes first, as in a local report
            assert headings.pop(0) == "Warnings", headings
        assert headings[:1] == [
            {"OptimizationRun": "Pareto front", "FeatureAnalysis": "Feature importance"}.get(
                kind, "Forecast"
            )
        ]
    table = kubectl(control_plane, "get", "optrun", "-n", namespace).stdout.splitlines()
    header, rows = table[0].split(), [row.split() for row in table[1:]]
    assert header[:3] == ["NAME", "ALGORITHM", "PHASE"]
    assert len(rows) == sum(d["kind"] == "OptimizationRun" for d in documents)
    assert all(row[2] == "Succeeded" for row in rows), table
    log = operator_log(api)
    assert "forbidden" not in log.lower()
    for document in documents:  # the chart's text log names each run's milestones
        assert f"[{namespace}/{document['metadata']['name']}] Succeeded: " in log, log[-3000:]
    notes = helm(control_plane, "get", "notes", RELEASE, f"--namespace={RELEASE_NAMESPACE}")
    assert f"kubectl apply -n {namespace} -f examples/" in notes.stdout, notes.stdout


def test_operator_pod_deleted_mid_run_loses_nothing(
    api: client.ApiClient,
    control_plane: ControlPlane,
    namespace: str,
    installed_operator: str,
) -> None:
    document = distributed_example("rsi-failover")
    apply(control_plane, namespace, document)
    wait_for(lambda: batch_jobs(api, namespace, 1), "the second generation's Job", 180)
    (first,) = operator_pods(api)
    client.CoreV1Api(api).delete_namespaced_pod(first.metadata.name, RELEASE_NAMESPACE)
    wait_for(
        lambda: [
            p
            for p in operator_pods(api)
            if p.metadata.uid != first.metadata.uid
            and p.status.container_statuses
            and p.status.container_statuses[0].ready
        ],
        "the Deployment's new operator pod",
        120,
    )
    status = finished(api, namespace, "optimizationruns", "rsi-failover", timeout=300)["status"]
    assert status["phase"] == "Succeeded", status
    _assert_same_result(status, _local_status(document))
    _assert_one_job_per_batch(control_plane, api, namespace, "rsi-failover")


def test_metrics_service_answers_over_the_pod_network(
    api: client.ApiClient,
    control_plane: ControlPlane,
    namespace: str,
    installed_operator: str,
) -> None:
    service = client.CoreV1Api(api).read_namespaced_service(
        f"{installed_operator}-metrics", RELEASE_NAMESPACE
    )
    address = f"http://{service.spec.cluster_ip}:{METRICS_PORT}/metrics"
    # A client inside the cluster's namespace: kube-proxy sends it on to the pod.
    scrape = (
        "import sys, urllib.request\n"
        f"sys.stdout.write(urllib.request.urlopen({address!r}, timeout=5).read().decode())"
    )

    errors: list[str] = []

    def exposition() -> str:
        done = subprocess.run(
            control_plane.netns.command([sys.executable, "-c", scrape]),
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
        errors.append(done.stderr.strip().splitlines()[-1] if done.stderr.strip() else "")
        return done.stdout if done.returncode == 0 else ""

    try:
        text = wait_for(exposition, "the metrics Service to answer", 60)
    except AssertionError as timeout:
        raise AssertionError(f"{timeout}: {errors[-1]}") from None
    assert "stratopt_runs" in text
