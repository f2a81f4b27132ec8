"""Operating stratopt on a cluster: the operator as `stratopt operator` runs it (a process
of its own, JSON logs), against real faults: an admission policy refusing its Jobs, a
ResourceQuota refusing their pods, huge budgets, long names, and deletion while it is
down."""

from __future__ import annotations

import contextlib
import copy
import time
from typing import Any

from kubernetes import client

from tests.cluster.conftest import apply, kubectl, wait_for
from tests.cluster.controlplane import ControlPlane
from tests.cluster.operator_process import OperatorProcess
from tests.test_examples import reduced

#: The chart's memory limit of the operator.
CHART_MEMORY_LIMIT = 1 << 30


def body_of(api: client.ApiClient, namespace: str, name: str) -> dict[str, Any]:
    found: dict[str, Any] = client.CustomObjectsApi(api).get_namespaced_custom_object(
        "stratopt.io", "v1alpha1", namespace, "optimizationruns", name
    )
    return found


def condition(body: dict[str, Any], kind: str) -> dict[str, Any] | None:
    conditions = (body.get("status") or {}).get("conditions") or []
    return next((c for c in conditions if c["type"] == kind and c["status"] == "True"), None)


def wait_finished(
    plane: ControlPlane, api: client.ApiClient, namespace: str, name: str, timeout: int = 240
) -> dict[str, Any]:
    """``kubectl wait --for=condition=Finished``: returns on success and failure alike."""
    kubectl(
        plane,
        "wait",
        "-n",
        namespace,
        "--for=condition=Finished",
        f"optrun/{name}",
        f"--timeout={timeout}s",
    )
    return body_of(api, namespace, name)


def small_run(name: str, **spec: Any) -> dict[str, Any]:
    document = reduced("optimization-genetic")
    document["metadata"]["name"] = name
    document["spec"].update(spec)
    return document


def test_a_failing_reconciliation_is_logged_with_its_run_and_retried(
    api: client.ApiClient,
    control_plane: ControlPlane,
    namespace: str,
    cli_operator: OperatorProcess,
) -> None:
    policy = f"freeze-jobs-{namespace}"
    admission = client.AdmissionregistrationV1Api(api)
    admission.create_validating_admission_policy(
        {
            "metadata": {"name": policy},
            "spec": {
                "failurePolicy": "Fail",
                "matchConstraints": {
                    "resourceRules": [
                        {
                            "apiGroups": ["batch"],
                            "apiVersions": ["v1"],
                            "operations": ["CREATE"],
                            "resources": ["jobs"],
                        }
                    ]
                },
                "validations": [{"expression": "false", "message": "Jobs are frozen here"}],
            },
        }
    )
    try:
        admission.create_validating_admission_policy_binding(
            {
                "metadata": {"name": policy},
                "spec": {
                    "policyName": policy,
                    "validationActions": ["Deny"],
                    "matchResources": {
                        "namespaceSelector": {
                            "matchLabels": {"kubernetes.io/metadata.name": namespace}
                        }
                    },
                },
            }
        )
        probe = ("create", "job", "probe", "--image=none", "--dry-run=server", "-n", namespace)
        wait_for(
            lambda: kubectl(control_plane, *probe, check=False).returncode != 0,
            "the admission policy to take effect",
        )
        apply(control_plane, namespace, small_run("frozen"))

        def logged_error() -> dict[str, Any] | None:
            return next(
                (
                    r
                    for r in cli_operator.records()
                    if r.get("severity") == "error" and "Jobs are frozen here" in r["message"]
                ),
                None,
            )

        record = wait_for(logged_error, "the failed reconciliation in the log")
        assert record["object"]["name"] == "frozen", record
        assert record["object"]["namespace"] == namespace, record
        assert "reconciling failed (attempt" in record["message"], record
    finally:
        with contextlib.suppress(client.ApiException):
            admission.delete_validating_admission_policy_binding(policy)
        admission.delete_validating_admission_policy(policy)

    body = wait_finished(control_plane, api, namespace, "frozen")
    assert body["status"]["phase"] == "Succeeded", body["status"]
    milestones = [r["message"] for r in cli_operator.records() if r.get("object", {}).get("name")]
    assert any(m.startswith("JobCreated:") for m in milestones), milestones
    assert any(m.startswith("Succeeded:") for m in milestones), milestones
    # Quiet at idle: a finished run is not looked at again (resync every 0.5 s).
    written = len(cli_operator.log.read_text().splitlines())
    time.sleep(3)
    assert len(cli_operator.log.read_text().splitlines()) == written, cli_operator.log.read_text()[
        -2000:
    ]


def test_names_of_63_64_and_253_characters_run_to_the_end(
    api: client.ApiClient,
    control_plane: ControlPlane,
    namespace: str,
    cli_operator: OperatorProcess,
) -> None:
    names = ["n" * 63, "l" * 64, "long." + "x" * 248]
    for name in names:
        apply(control_plane, namespace, small_run(name, execution={"mode": "single"}))
    for name in names:
        body = wait_finished(control_plane, api, namespace, name)
        assert body["status"]["phase"] == "Succeeded", (len(name), body["status"])
    jobs = client.BatchV1Api(api).list_namespaced_job(namespace).items
    full = {j.metadata.annotations["stratopt.io/run-name"] for j in jobs}
    assert full == set(names)
    assert all(len(j.metadata.labels["stratopt.io/run"]) <= 63 for j in jobs)
    assert len({j.metadata.name for j in jobs}) == len(names)


def test_huge_budgets_are_refused_by_name_without_the_operator_growing(
    api: client.ApiClient,
    control_plane: ControlPlane,
    namespace: str,
    cli_operator: OperatorProcess,
) -> None:
    refused = {
        "population": ({"name": "nsga2", "nsga2": {"populationSize": 100_000}}, "populationSize"),
        "samples": ({"name": "random", "random": {"samples": 10_000_000}}, "samples"),
    }
    for name, (algorithm, field) in refused.items():
        document = small_run(name, algorithm=algorithm)
        done = apply(control_plane, namespace, document, check=False)
        assert done.returncode != 0 and field in done.stderr, done.stderr
    parameters = [
        {"name": name, "min": low, "max": high}
        for name, low, high in (
            ("stop_loss", 20, 80),
            ("take_profit", 40, 200),
            ("position_size", 0.01, 0.05),
        )
    ]
    grid = small_run(
        "grid", algorithm={"name": "grid", "grid": {"steps": 10_000}}, parameters=parameters
    )
    apply(control_plane, namespace, grid)
    body = wait_finished(control_plane, api, namespace, "grid", timeout=60)
    failed = condition(body, "Failed")
    assert failed is not None, body["status"]
    assert failed["message"].startswith("spec.algorithm.grid.steps: the grid has"), failed
    assert "over the limit of 100,000" in failed["message"], failed
    assert not client.BatchV1Api(api).list_namespaced_job(namespace).items
    # Within the limits and suspended: the operator sizes them and creates their Jobs.
    at_limit = {
        "at-limit-random": {"name": "random", "random": {"samples": 100_000}},
        "at-limit-nsga2": {"name": "nsga2", "nsga2": {"populationSize": 10_000, "generations": 10}},
    }
    for name, algorithm in at_limit.items():
        apply(control_plane, namespace, small_run(name, algorithm=algorithm, suspend=True))
    for name in at_limit:
        wait_for(
            lambda name=name: (
                (body_of(api, namespace, name).get("status") or {}).get("phase") == "Suspended"
            ),
            f"{name} to be suspended",
        )
    peak = cli_operator.peak_rss()
    print(f"operator peak RSS: {peak / 2**20:.0f} MiB")
    assert peak < CHART_MEMORY_LIMIT, f"{peak / 2**20:.0f} MiB"


def test_deleting_a_run_needs_no_operator(
    api: client.ApiClient,
    control_plane: ControlPlane,
    namespace: str,
    cli_operator: OperatorProcess,
) -> None:
    apply(control_plane, namespace, small_run("orphan", suspend=True))
    batch = client.BatchV1Api(api)
    wait_for(lambda: batch.list_namespaced_job(namespace).items, "the run's Job")
    assert not body_of(api, namespace, "orphan")["metadata"].get("finalizers")
    cli_operator.stop()
    kubectl(control_plane, "delete", "-n", namespace, "optrun/orphan", "--timeout=30s")
    wait_for(lambda: not batch.list_namespaced_job(namespace).items, "its Job to be collected")


def test_pods_refused_by_a_quota_stall_the_run_until_the_quota_goes(
    api: client.ApiClient,
    control_plane: ControlPlane,
    namespace: str,
    cli_operator: OperatorProcess,
) -> None:
    core = client.CoreV1Api(api)
    core.create_namespaced_resource_quota(
        namespace, {"metadata": {"name": "no-pods"}, "spec": {"hard": {"pods": "0"}}}
    )
    wait_for(
        lambda: core.read_namespaced_resource_quota("no-pods", namespace).status.hard or {},
        "the quota to be counted",
    )
    apply(control_plane, namespace, small_run("quota", execution={"mode": "single"}))

    def stalled() -> dict[str, Any] | None:
        return condition(body_of(api, namespace, "quota"), "Stalled")

    found = wait_for(stalled, "the run to stall", 90)
    assert found["reason"] == "FailedCreate", found
    assert "exceeded quota" in found["message"], found
    assert body_of(api, namespace, "quota")["status"]["phase"] == "Pending"
    core.delete_namespaced_resource_quota("no-pods", namespace)
    body = wait_finished(control_plane, api, namespace, "quota")
    assert body["status"]["phase"] == "Succeeded", body["status"]
    resolved = next(c for c in body["status"]["conditions"] if c["type"] == "Stalled")
    assert resolved["status"] == "False", resolved


def test_a_failed_run_ends_a_wait_for_finished_at_once(
    api: client.ApiClient,
    control_plane: ControlPlane,
    namespace: str,
    cli_operator: OperatorProcess,
) -> None:
    document = small_run("absent-data")
    document["spec"]["backtest"] = copy.deepcopy(document["spec"]["backtest"])
    document["spec"]["backtest"]["data"]["source"] = "/data/absent.csv"
    apply(control_plane, namespace, document)
    body = wait_finished(control_plane, api, namespace, "absent-data", timeout=120)
    assert body["status"]["phase"] == "Failed"
    finished = condition(body, "Finished")
    assert finished is not None and finished["reason"] == "Failed", body["status"]
    assert "spec.backtest.data.source: file not found" in finished["message"]


def test_a_relative_data_path_fails_saying_it_only_works_locally(
    api: client.ApiClient,
    control_plane: ControlPlane,
    namespace: str,
    cli_operator: OperatorProcess,
) -> None:
    document = small_run("relative")
    document["spec"]["backtest"]["data"]["source"] = "data/eurusd.csv"
    apply(control_plane, namespace, document)
    body = wait_finished(control_plane, api, namespace, "relative", timeout=60)
    failed = condition(body, "Failed")
    assert failed is not None, body["status"]
    assert failed["message"].startswith(
        "spec.backtest.data.source: 'data/eurusd.csv' is a relative path"
    ), failed
    assert not client.BatchV1Api(api).list_namespaced_job(namespace).items
