"""Argo CD's health script and kstatus (Flux) read statuses recorded live from the test
cluster at each step of a run's life, not only those the status builders write."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import yaml
from kubernetes import client

from stratopt.runtime.protocol import QUEUE_LABEL
from tests.cluster.conftest import apply, kubectl, wait_for
from tests.cluster.controlplane import ROOT, ControlPlane
from tests.cluster.kueue import apply_all, queues
from tests.cluster.operator_process import OperatorProcess
from tests.cluster.test_operating import (
    condition,
    small_run,
    wait_finished,
)


def live(api: client.ApiClient, namespace: str, plural: str, name: str) -> dict[str, Any]:
    """The resource as the API server serves it, without server bookkeeping."""
    body: dict[str, Any] = client.CustomObjectsApi(api).get_namespaced_custom_object(
        "stratopt.io", "v1alpha1", namespace, plural, name
    )
    body["metadata"].pop("managedFields", None)
    return body


def message_of(body: dict[str, Any], kind: str) -> str:
    found = condition(body, kind)
    assert found is not None, (kind, body.get("status"))
    return str(found["message"])


def when(
    api: client.ApiClient, namespace: str, plural: str, name: str, test: Any, what: str
) -> dict[str, Any]:
    def ready() -> dict[str, Any] | None:
        body = live(api, namespace, plural, name)
        return body if test(body) else None

    found: dict[str, Any] = wait_for(ready, what, 120)
    return found


def phase(body: dict[str, Any]) -> str | None:
    return (body.get("status") or {}).get("phase")


def test_argo_cd_and_kstatus_on_statuses_recorded_from_the_cluster(
    api: client.ApiClient,
    control_plane: ControlPlane,
    namespace: str,
    cli_operator: OperatorProcess,
    kueue: str,
    tmp_path: Path,
) -> None:
    runs = "optimizationruns"
    recorded: dict[str, tuple[dict[str, Any], str, str]] = {}

    busy = small_run(
        "busy", algorithm={"name": "nsga2", "nsga2": {"populationSize": 40, "generations": 200}}
    )
    apply(control_plane, namespace, busy)
    body = when(api, namespace, runs, "busy", lambda b: phase(b) == "Running", "busy to run")
    recorded["running"] = (body, "Progressing", message_of(body, "Reconciling"))
    client.CustomObjectsApi(api).delete_namespaced_custom_object(
        "stratopt.io", "v1alpha1", namespace, runs, "busy"
    )

    apply(control_plane, namespace, small_run("done"))
    body = wait_finished(control_plane, api, namespace, "done")
    recorded["succeeded"] = (
        live(api, namespace, runs, "done"),
        "Healthy",
        message_of(body, "Succeeded"),
    )

    failing = small_run("broken")
    failing["spec"]["backtest"]["data"]["source"] = "/data/absent.csv"
    apply(control_plane, namespace, failing)
    body = wait_finished(control_plane, api, namespace, "broken")
    recorded["failed"] = (
        live(api, namespace, runs, "broken"),
        "Degraded",
        message_of(body, "Failed"),
    )

    apply(control_plane, namespace, small_run("paused", suspend=True))
    body = when(api, namespace, runs, "paused", lambda b: phase(b) == "Suspended", "a suspension")
    recorded["suspended"] = (body, "Suspended", message_of(body, "Suspended"))

    forecast = {
        "apiVersion": "stratopt.io/v1alpha1",
        "kind": "ForecastRun",
        "metadata": {"name": "later"},
        "spec": {
            "data": {"source": "synthetic:gbm?bars=3000"},
            "fromFeatureAnalysis": "not-yet",
        },
    }
    apply(control_plane, namespace, forecast)
    body = when(
        api,
        namespace,
        "forecastruns",
        "later",
        lambda b: condition(b, "Reconciling") is not None,
        "the forecast to wait for its analysis",
    )
    recorded["waiting"] = (body, "Progressing", message_of(body, "Reconciling"))

    core = client.CoreV1Api(api)
    core.create_namespaced_resource_quota(
        namespace, {"metadata": {"name": "no-pods"}, "spec": {"hard": {"pods": "0"}}}
    )
    wait_for(
        lambda: core.read_namespaced_resource_quota("no-pods", namespace).status.hard,
        "the quota to be counted",
    )
    apply(control_plane, namespace, small_run("stuck"))
    body = when(
        api, namespace, runs, "stuck", lambda b: condition(b, "Stalled") is not None, "a stall"
    )
    recorded["stalled"] = (body, "Degraded", message_of(body, "Stalled"))

    # Held by Kueue: its LocalQueue's ClusterQueue has no quota at all.
    kubectl(control_plane, "label", "namespace", namespace, f"{kueue}=true")
    apply_all(control_plane, queues(namespace, quota={"cpu": "0", "memory": "0"}))
    held = small_run("held")
    held["metadata"]["labels"] = {QUEUE_LABEL: "work"}
    apply(control_plane, namespace, held)
    body = when(api, namespace, runs, "held", lambda b: phase(b) == "Queued", "a queued run")
    recorded["queued"] = (body, "Progressing", message_of(body, "Reconciling"))

    cli_operator.stop()  # so that the next spec change stays unobserved
    client.CustomObjectsApi(api).patch_namespaced_custom_object(
        "stratopt.io", "v1alpha1", namespace, runs, "done", {"spec": {"seed": 9}}
    )
    body = live(api, namespace, runs, "done")
    generation = body["metadata"]["generation"]
    assert body["status"]["observedGeneration"] < generation
    recorded["changed"] = (
        body,
        "Progressing",
        f"Waiting for the operator to act on generation {generation}",
    )

    (tmp_path / "testdata").mkdir()
    cases = []
    for name, (resource, health, message) in recorded.items():
        (tmp_path / "testdata" / f"{name}.yaml").write_text(yaml.safe_dump(resource))
        cases.append(
            {
                "healthStatus": {"status": health, "message": message},
                "inputPath": f"testdata/{name}.yaml",
            }
        )
    (tmp_path / "health_test.yaml").write_text(yaml.safe_dump({"tests": cases}))
    done = subprocess.run(
        ["go", "test", "-count=1", "-v", "./..."],
        cwd=ROOT / "hack" / "health",
        env={
            **os.environ,
            "GOTOOLCHAIN": "local",
            "GOFLAGS": "-mod=mod",
            "STRATOPT_HEALTH_RECORDINGS": str(tmp_path),
        },
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    assert "--- PASS: TestKstatusOfEveryRecordedPhase" in done.stdout
    assert "--- PASS: TestHealthOfEveryRecordedPhase" in done.stdout
    print(json.dumps({name: health for name, (_, health, _) in recorded.items()}))
