"""The NetworkPolicies enforced on the real node (kube-network-policies, see
tests/cluster/policy_engine.py): the workers' policy, as the operator creates it, lets a
worker pod reach the API server and nothing in the cluster; the chart's operator policy
lets the operator reach the API server, and lets in only probes and scrapes. A pod that
no policy selects reaches everything, so each refusal is the policy's."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from kubernetes import client

from stratopt.operator.manifests import build_worker_network_policy
from stratopt.settings import JobSettings
from tests.cluster.conftest import kubectl, render_chart
from tests.cluster.controlplane import ControlPlane
from tests.cluster.leftovers import Ledger
from tests.cluster.netns import API_PORT, NODE_IP
from tests.cluster.node import Node
from tests.cluster.policy_engine import PolicyEngine
from tests.cluster.waiting import wait_for

#: Listens on the ports given with --listen, prints {target: "open" | "blocked"} for each
#: host:port given with --probe, then keeps listening.
NETCHECK = """
import json, socket, sys, threading, time
args = sys.argv[1:]
listen = [int(a) for a in args[args.index("--listen") + 1:]] if "--listen" in args else []
probes = args[args.index("--probe") + 1:args.index("--listen") if listen else None] \\
    if "--probe" in args else []
def serve(port):
    server = socket.socket()
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server.bind(("", port)); server.listen()
    while True:
        server.accept()[0].close()
for port in listen:
    threading.Thread(target=serve, args=(port,), daemon=True).start()
def reach(target):
    host, port = target.rsplit(":", 1)
    try:
        socket.create_connection((host, int(port)), timeout=4).close()
        return "open"
    except OSError:
        return "blocked"
print(json.dumps({target: reach(target) for target in probes}), flush=True)
while listen:
    time.sleep(60)
"""
API_SERVICE = "10.203.0.1:443"  # the kubernetes Service, DNATed to the API server
WORKER_LABELS = {"app.kubernetes.io/managed-by": "stratopt", "stratopt.io/run": "probe"}


@pytest.fixture(scope="module")
def policy_engine(
    control_plane: ControlPlane,
    node: Node,
    ledger: Ledger,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[PolicyEngine]:
    engine = PolicyEngine(control_plane, tmp_path_factory.mktemp("policy-engine"))
    ledger.process(engine.start())
    try:
        yield engine
    finally:
        engine.stop()


def pod(name: str, image: str, labels: dict[str, str], *args: str) -> dict[str, Any]:
    """A pod of the restricted profile running NETCHECK."""
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "labels": labels},
        "spec": {
            "restartPolicy": "Never",
            "terminationGracePeriodSeconds": 1,
            "containers": [
                {
                    "name": "netcheck",
                    "image": image,
                    "imagePullPolicy": "Never",
                    "command": ["python3", "-c", NETCHECK, *args],
                    "resources": {"requests": {"cpu": "10m", "memory": "32Mi"}},
                    "securityContext": {
                        "runAsNonRoot": True,
                        "runAsUser": 10001,
                        "allowPrivilegeEscalation": False,
                        "capabilities": {"drop": ["ALL"]},
                        "seccompProfile": {"type": "RuntimeDefault"},
                    },
                }
            ],
        },
    }


def started(api: client.ApiClient, namespace: str, document: dict[str, Any]) -> str:
    """Create the pod; its IP once it runs."""
    core = client.CoreV1Api(api)
    core.create_namespaced_pod(namespace, document)
    name = document["metadata"]["name"]

    def address() -> str | None:
        found = core.read_namespaced_pod(name, namespace)
        return found.status.pod_ip if found.status.phase == "Running" else None

    return str(wait_for(address, f"pod {name} to run", 90))


def verdicts(api: client.ApiClient, namespace: str, name: str) -> dict[str, str]:
    """What the pod's probes found, from the first line of its log."""
    core = client.CoreV1Api(api)

    def printed() -> str | None:
        try:
            log = core.read_namespaced_pod_log(name, namespace)
        except client.ApiException:
            return None
        return log.splitlines()[0] if log.strip() else None

    found: dict[str, str] = json.loads(wait_for(printed, f"pod {name}'s probes", 90))
    return found


def test_policies_let_workers_and_the_operator_reach_only_what_they_name(
    api: client.ApiClient,
    control_plane: ControlPlane,
    namespace: str,
    images: dict[str, Any],
    policy_engine: PolicyEngine,
) -> None:
    image = images["worker"]
    api_server = f"{NODE_IP}/32"
    workers = build_worker_network_policy(
        namespace, JobSettings(worker_network_policy=True, api_server_cidrs=api_server)
    )
    chart = render_chart(
        control_plane,
        "networkPolicy.enabled=true",
        f"networkPolicy.apiServer.cidrs={{{api_server}}}",
        f"networkPolicy.apiServer.port={API_PORT}",
        release="chart",
        namespace=namespace,
    )
    operator = next(d for d in chart if d["kind"] == "NetworkPolicy")
    operator_labels = operator["spec"]["podSelector"]["matchLabels"]
    listing = {"apiVersion": "v1", "kind": "List", "items": [workers, operator]}
    kubectl(control_plane, "apply", "-n", namespace, "-f", "-", stdin=json.dumps(listing))

    target = started(api, namespace, pod("target", image, {}, "--listen", "8080"))
    served = started(
        api,
        namespace,
        pod(
            "operator",
            image,
            operator_labels,
            "--probe",
            API_SERVICE,
            f"{target}:8080",
            "--listen",
            "8081",
            "9999",
        ),
    )
    started(
        api,
        namespace,
        pod(
            "worker",
            image,
            WORKER_LABELS,
            "--probe",
            API_SERVICE,
            f"{target}:8080",
            f"{served}:8081",
        ),
    )
    started(
        api,
        namespace,
        pod(
            "bystander", image, {}, "--probe", f"{target}:8080", f"{served}:8081", f"{served}:9999"
        ),
    )
    assert policy_engine.running(), policy_engine.log_tail()

    assert verdicts(api, namespace, "worker") == {
        API_SERVICE: "open",
        f"{target}:8080": "blocked",
        f"{served}:8081": "blocked",
    }, policy_engine.log_tail()
    assert verdicts(api, namespace, "operator") == {
        API_SERVICE: "open",
        f"{target}:8080": "blocked",
    }, policy_engine.log_tail()
    # Selected by no policy, it reaches the target; the operator takes its probes only.
    assert verdicts(api, namespace, "bystander") == {
        f"{target}:8080": "open",
        f"{served}:8081": "open",
        f"{served}:9999": "blocked",
    }, policy_engine.log_tail()
