"""The chart's optional parts on the real API server: the ServiceMonitor (with the
Prometheus Operator's own CRD installed), the PodDisruptionBudget of two replicas, the
dashboard's ConfigMap and the operator's NetworkPolicy, as ``helm template`` renders
them, and the workers' NetworkPolicy the operator creates, are accepted and read back.
(The test node's bridge network plugin does not enforce NetworkPolicy.)"""

from __future__ import annotations

import json
from typing import Any

from stratopt.operator.manifests import build_worker_network_policy
from stratopt.settings import JobSettings
from tests.cluster.conftest import kubectl, render_chart
from tests.cluster.controlplane import ControlPlane, cached

OPTIONS = (
    "networkPolicy.enabled=true",
    "networkPolicy.apiServer.cidrs={10.0.0.1/32}",
    "metrics.serviceMonitor.enabled=true",
    "metrics.serviceMonitor.labels.release=prometheus",
    "grafanaDashboard.enabled=true",
    "replicas=2",
    "peering=stratopt",
)


def test_the_optional_parts_apply_and_read_back(
    control_plane: ControlPlane, namespace: str
) -> None:
    crd = cached("fetch-crds.sh") / "monitoring.coreos.com_servicemonitors.yaml"
    kubectl(control_plane, "apply", "--server-side", "-f", str(crd))
    try:
        kubectl(
            control_plane,
            "wait",
            "--for=condition=Established",
            "--timeout=60s",
            "crd/servicemonitors.monitoring.coreos.com",
        )
        documents = render_chart(control_plane, *OPTIONS, release="chart", namespace=namespace)
        wanted = [
            d
            for d in documents
            if d["kind"]
            in ("ServiceMonitor", "PodDisruptionBudget", "ConfigMap", "Service", "NetworkPolicy")
        ]
        workers = JobSettings(worker_network_policy=True, api_server_cidrs="10.0.0.1/32")
        wanted.append(build_worker_network_policy(namespace, workers))
        assert sorted(d["kind"] for d in wanted) == [
            "ConfigMap",
            "NetworkPolicy",
            "NetworkPolicy",
            "PodDisruptionBudget",
            "Service",
            "ServiceMonitor",
        ]
        listing = {"apiVersion": "v1", "kind": "List", "items": wanted}
        kubectl(control_plane, "apply", "-n", namespace, "-f", "-", stdin=json.dumps(listing))
        monitor = _read(control_plane, namespace, "servicemonitor", "chart-operator")
        assert monitor["metadata"]["labels"]["release"] == "prometheus"
        assert monitor["spec"]["endpoints"] == [{"port": "metrics", "interval": "30s"}]
        services = json.loads(
            kubectl(
                control_plane,
                "get",
                "service",
                "-n",
                namespace,
                "-o",
                "json",
                "-l",
                ",".join(f"{k}={v}" for k, v in monitor["spec"]["selector"]["matchLabels"].items()),
            ).stdout
        )["items"]
        assert [s["metadata"]["name"] for s in services] == ["chart-operator-metrics"]
        budget = _read(control_plane, namespace, "poddisruptionbudget", "chart-operator")
        assert budget["spec"]["minAvailable"] == 1
        dashboard = _read(control_plane, namespace, "configmap", "chart-operator-dashboard")
        assert json.loads(dashboard["data"]["stratopt.json"])["uid"] == "stratopt-operator"
        policy = _read(control_plane, namespace, "networkpolicy", "stratopt-worker")
        assert policy["spec"]["egress"] == wanted[-1]["spec"]["egress"]
        assert _read(control_plane, namespace, "networkpolicy", "chart-operator")["spec"]["ingress"]
    finally:
        kubectl(control_plane, "delete", "-f", str(crd), "--wait=true", check=False)


def _read(plane: ControlPlane, namespace: str, kind: str, name: str) -> dict[str, Any]:
    found: dict[str, Any] = json.loads(
        kubectl(plane, "get", kind, name, "-n", namespace, "-o", "json").stdout
    )
    return found
