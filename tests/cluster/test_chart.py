"""The Helm chart on a real control plane: its Deployment runs the operator as a pod
under the chart's ServiceAccount, and every example applied with kubectl succeeds."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from kubernetes import client

from tests.cluster.conftest import (
    OPERATOR_NAMESPACE,
    apply,
    kubectl,
    reduced,
    render_chart,
)
from tests.cluster.controlplane import ControlPlane, free_port
from tests.cluster.node_agent import NodeAgent
from tests.conftest import EXAMPLES

EXAMPLE_NAMES = sorted(
    path.stem for path in EXAMPLES.glob("*.yaml") if not path.name.endswith(".expect.yaml")
)


@pytest.fixture()
def deployed_operator(
    api: client.ApiClient,
    control_plane: ControlPlane,
    namespace: str,
    operator_kubeconfig: Path,
    node_agent: NodeAgent,
) -> Iterator[str]:
    """The chart's Deployment, watching ``namespace``; removed afterwards."""
    documents = render_chart(
        control_plane,
        f"watchNamespaces={{{namespace}}}",
        f"metrics.port={free_port()}",
        "reconcileInterval=0.5",
    )
    workloads = [d for d in documents if d["kind"] in ("Deployment", "Service")]
    listing = json.dumps({"apiVersion": "v1", "kind": "List", "items": workloads})
    kubectl(control_plane, "apply", "-f", "-", stdin=listing)
    kubectl(
        control_plane,
        "rollout",
        "status",
        "-n",
        OPERATOR_NAMESPACE,
        "deployment/stratopt-operator",
        "--timeout=60s",
    )
    yield "stratopt-operator"
    kubectl(control_plane, "delete", "-f", "-", "--wait=true", stdin=listing)


def test_chart_operator_runs_every_example(
    api: client.ApiClient,
    control_plane: ControlPlane,
    namespace: str,
    deployed_operator: str,
    node_agent: NodeAgent,
) -> None:
    pods = client.CoreV1Api(api).list_namespaced_pod(
        OPERATOR_NAMESPACE, label_selector="app.kubernetes.io/component=operator"
    )
    assert [p.spec.service_account_name for p in pods.items] == [deployed_operator]
    documents = [reduced(name) for name in EXAMPLE_NAMES]
    for document in documents:
        apply(control_plane, namespace, document)
    for document in documents:
        kind, name = document["kind"].lower(), document["metadata"]["name"]
        done = kubectl(
            control_plane,
            "wait",
            "-n",
            namespace,
            "--for=condition=Succeeded",
            f"{kind}/{name}",
            "--timeout=300s",
            check=False,
        )
        if done.returncode != 0:
            status = kubectl(control_plane, "get", "-n", namespace, f"{kind}/{name}", "-o", "yaml")
            operator_log = "".join(
                node_agent.log_of(OPERATOR_NAMESPACE, p.metadata.name) for p in pods.items
            )
            pytest.fail(f"{kind}/{name} did not succeed:\n{status.stdout}\n{operator_log[-3000:]}")
    table = kubectl(control_plane, "get", "optrun", "-n", namespace).stdout.splitlines()
    header, rows = table[0].split(), [row.split() for row in table[1:]]
    assert header[:3] == ["NAME", "ALGORITHM", "PHASE"]
    assert len(rows) == sum(d["kind"] == "OptimizationRun" for d in documents)
    assert all(row[2] == "Succeeded" for row in rows), table
