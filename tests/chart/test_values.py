"""The chart without a cluster: ``helm lint`` and ``helm template`` over a matrix of values,
values the schema refuses (named), and a dashboard whose every query reads a metric the
operator exports. tests/cluster/test_chart*.py install and apply what it renders."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from stratopt.operator.monitoring import REGISTRY
from tests.cluster.controlplane import binaries
from tests.conftest import ROOT

CHART = ROOT / "charts" / "stratopt"
#: Values of the chart's optional parts, and the kinds each adds to the defaults'.
MATRIX: dict[str, tuple[tuple[str, ...], set[str]]] = {
    "defaults": ((), set()),
    "high availability": (
        ("replicas=2", "peering=stratopt"),
        {"ClusterKopfPeering", "PodDisruptionBudget"},
    ),
    "kueue": (("kueue.enabled=true",), set()),
    "metrics": (
        ("metrics.serviceMonitor.enabled=true", "grafanaDashboard.enabled=true"),
        {"ServiceMonitor", "ConfigMap"},
    ),
    "namespaced": (("watchNamespaces={research}", "peering=stratopt"), {"KopfPeering"}),
    "network policy": (
        ("networkPolicy.enabled=true", "networkPolicy.apiServer.cidrs={10.0.0.1/32}"),
        {"NetworkPolicy"},
    ),
}


@pytest.fixture(scope="module")
def helm() -> Path:
    return binaries() / "helm"


def run(helm: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(helm), *args], capture_output=True, text=True, timeout=120, check=False
    )


def rendered(helm: Path, *values: str) -> list[dict[str, Any]]:
    done = run(helm, "template", "stratopt", str(CHART), *_set(values))
    assert done.returncode == 0, done.stderr
    return [document for document in yaml.safe_load_all(done.stdout) if document]


def _set(values: tuple[str, ...]) -> list[str]:
    return [arg for value in values for arg in ("--set", value)]


@pytest.mark.parametrize("case", sorted(MATRIX))
def test_each_set_of_values_lints_and_renders_its_parts(helm: Path, case: str) -> None:
    values, added = MATRIX[case]
    linted = run(helm, "lint", "--strict", str(CHART), *_set(values))
    assert linted.returncode == 0, linted.stdout + linted.stderr
    defaults = {document["kind"] for document in rendered(helm)}
    kinds = {document["kind"] for document in rendered(helm, *values)}
    assert kinds - defaults == added


def test_kueue_lets_the_operator_read_workloads_and_hold_one_back(helm: Path) -> None:
    def workload_rules(*values: str) -> list[dict[str, Any]]:
        role = next(d for d in rendered(helm, *values) if d["kind"] == "ClusterRole")
        return [r for r in role["rules"] if "workloads" in r["resources"]]

    assert workload_rules() == []
    assert workload_rules("kueue.enabled=true") == [
        {"apiGroups": ["kueue.x-k8s.io"], "resources": ["workloads"], "verbs": ["list", "patch"]}
    ]


@pytest.mark.parametrize(
    ("values", "named"),
    [
        (("replica=2",), "additional properties 'replica' not allowed"),
        (("metrics.serviceMonitor.enabeld=true",), "'enabeld' not allowed"),
        (("replicas=two",), "/replicas"),
        (("logs.format=xml",), "/logs/format"),
        (("workerResources.limits.cpu=2",), "'limits' not allowed"),
        (("networkPolicy.apiServer.cidrs={10.0.0.1}",), "/networkPolicy/apiServer/cidrs/0"),
        (("replicas=2",), "/peering"),
        (("metrics.port=0", "metrics.serviceMonitor.enabled=true"), "/metrics/port"),
    ],
)
def test_a_mistaken_value_is_refused_by_name(
    helm: Path, values: tuple[str, ...], named: str
) -> None:
    for command in (("template", "stratopt"), ("lint",)):
        done = run(helm, *command, str(CHART), *_set(values))
        said = done.stdout + done.stderr
        assert done.returncode != 0 and named in said, (command, said)


def test_the_service_monitor_selects_the_metrics_service(helm: Path) -> None:
    documents = rendered(helm, "metrics.serviceMonitor.enabled=true")
    (monitor,) = [d for d in documents if d["kind"] == "ServiceMonitor"]
    (service,) = [d for d in documents if d["kind"] == "Service"]
    assert (
        monitor["spec"]["selector"]["matchLabels"].items() <= service["metadata"]["labels"].items()
    )
    ports = {port["name"] for port in service["spec"]["ports"]}
    assert {endpoint["port"] for endpoint in monitor["spec"]["endpoints"]} <= ports


def test_the_dashboard_reads_only_metrics_the_operator_exports(helm: Path) -> None:
    suffixes = {"counter": ("_total",), "histogram": ("_bucket", "_count", "_sum")}
    exported = {
        family.name + suffix
        for family in REGISTRY.collect()
        for suffix in suffixes.get(family.type, ("",))
    }
    dashboard = json.loads((CHART / "dashboards" / "stratopt.json").read_text())
    queries = [t["expr"] for panel in dashboard["panels"] for t in panel["targets"]]
    assert len(queries) >= len(dashboard["panels"])
    for query in queries:
        read = set(re.findall(r"\bstratopt_[a-z_]+", query))
        assert read and read <= exported, (query, read - exported)
    (shipped,) = [
        d for d in rendered(helm, "grafanaDashboard.enabled=true") if d["kind"] == "ConfigMap"
    ]
    assert json.loads(shipped["data"]["stratopt.json"]) == dashboard
    assert shipped["metadata"]["labels"]["grafana_dashboard"] == "1"


def test_the_network_policy_reaches_the_operator_and_it_the_workers_policy(helm: Path) -> None:
    """The operator's own policy admits its probes and scrapes; with it enabled, the
    operator is told to create the workers' policy and may."""
    values = ("networkPolicy.enabled=true", "networkPolicy.apiServer.cidrs={10.0.0.1/32}")
    documents = rendered(helm, *values)
    (policy,) = [d for d in documents if d["kind"] == "NetworkPolicy"]
    ports = {port["port"] for port in policy["spec"]["ingress"][0]["ports"]}
    assert ports == {8080, 8081}
    assert policy["spec"]["egress"][1]["to"] == [{"ipBlock": {"cidr": "10.0.0.1/32"}}]
    (deployment,) = [d for d in documents if d["kind"] == "Deployment"]
    env = {
        e["name"]: e["value"]
        for e in deployment["spec"]["template"]["spec"]["containers"][0]["env"]
    }
    assert env["STRATOPT_WORKER_NETWORK_POLICY"] == "true"
    assert env["STRATOPT_API_SERVER_CIDRS"] == "10.0.0.1/32"
    (role,) = [d for d in documents if d["kind"] == "ClusterRole"]
    assert any("networkpolicies" in rule["resources"] for rule in role["rules"])
    (plain_role,) = [d for d in rendered(helm) if d["kind"] == "ClusterRole"]
    assert not any("networkpolicies" in rule["resources"] for rule in plain_role["rules"])
