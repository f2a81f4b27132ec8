"""Fixtures for tests against a real control plane: the processes, the node agent,
the shipped CRDs applied, the operator's credentials as the Helm chart grants them, and a
fresh namespace per test.

Only the kubeconfig these fixtures write is ever used: ``KUBECONFIG`` points at it for
the whole session and any other is refused, so a developer's cluster is never touched.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from kubernetes import client, config

from tests.cluster.controlplane import ROOT, ControlPlane, kubeconfig
from tests.cluster.node_agent import NodeAgent
from tests.conftest import EXAMPLES
from tests.test_examples import deep_merge


@pytest.fixture(scope="session")
def control_plane(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ControlPlane]:
    plane = ControlPlane(tmp_path_factory.mktemp("controlplane"))
    previous = os.environ.get("KUBECONFIG")
    try:
        plane.start()
        os.environ["KUBECONFIG"] = str(plane.kubeconfig)
        yield plane
    finally:
        plane.stop()
        if previous is None:
            os.environ.pop("KUBECONFIG", None)
        else:
            os.environ["KUBECONFIG"] = previous


@pytest.fixture(scope="session")
def api(control_plane: ControlPlane) -> client.ApiClient:
    assert os.environ["KUBECONFIG"] == str(control_plane.kubeconfig), "foreign kubeconfig"
    return config.new_client_from_config(str(control_plane.kubeconfig))


@pytest.fixture(scope="session")
def node_agent(api: client.ApiClient, control_plane: ControlPlane) -> Iterator[NodeAgent]:
    agent = NodeAgent(api, control_plane.server, control_plane.ca, control_plane.workdir)
    agent.start()
    yield agent
    agent.stop()


@pytest.fixture(scope="session")
def crds(control_plane: ControlPlane) -> list[str]:
    """Apply the shipped crds/ and wait until they are served."""
    files = sorted((ROOT / "crds").glob("*.yaml"))
    assert files, "crds/ is empty: run `stratopt crds`"
    kubectl(control_plane, "apply", *[arg for f in files for arg in ("-f", str(f))])
    names = [f.name.removesuffix(".yaml") for f in files]
    kubectl(
        control_plane,
        "wait",
        "--for=condition=Established",
        "--timeout=30s",
        *(f"crd/{n}" for n in names),
    )
    return names


OPERATOR_NAMESPACE = "stratopt-system"
OPERATOR_ACCOUNT = "stratopt-operator"


def render_chart(plane: ControlPlane, *values: str) -> list[dict[str, Any]]:
    """``helm template`` of charts/stratopt, installed as release ``stratopt``."""
    done = subprocess.run(
        [
            str(plane.bin / "helm"),
            "template",
            "stratopt",
            str(ROOT / "charts" / "stratopt"),
            "--namespace",
            OPERATOR_NAMESPACE,
            *(arg for value in values for arg in ("--set", value)),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return [document for document in yaml.safe_load_all(done.stdout) if document]


@pytest.fixture(scope="session")
def operator_kubeconfig(
    api: client.ApiClient, control_plane: ControlPlane, crds: list[str]
) -> Path:
    """Credentials of the chart's operator ServiceAccount, bound to the chart's ClusterRole:
    an operator using them holds exactly what the chart grants, so a missing permission
    fails a test."""
    rbac = [
        document
        for document in render_chart(control_plane)
        if document["kind"] in ("ServiceAccount", "ClusterRole", "ClusterRoleBinding")
    ]
    assert len(rbac) == 3, [d["kind"] for d in rbac]
    kubectl(control_plane, "create", "namespace", OPERATOR_NAMESPACE)
    listing = {"apiVersion": "v1", "kind": "List", "items": rbac}
    kubectl(control_plane, "apply", "-f", "-", stdin=json.dumps(listing))
    token = (
        client.CoreV1Api(api)
        .create_namespaced_service_account_token(
            OPERATOR_ACCOUNT,
            OPERATOR_NAMESPACE,
            client.AuthenticationV1TokenRequest(
                spec=client.V1TokenRequestSpec(
                    audiences=["https://kubernetes.default.svc"], expiration_seconds=4 * 3600
                )
            ),
        )
        .status.token
    )
    path = control_plane.workdir / "operator.kubeconfig"
    path.write_text(
        yaml.safe_dump(kubeconfig(control_plane.server, token, OPERATOR_ACCOUNT, control_plane.ca))
    )
    return path


@pytest.fixture()
def namespace(api: client.ApiClient, control_plane: ControlPlane) -> Iterator[str]:
    name = f"t-{uuid.uuid4().hex[:10]}"
    core = client.CoreV1Api(api)
    core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=name)))
    wait_for(lambda: _has_default_account(core, name), "default ServiceAccount")
    yield name
    core.delete_namespace(name, propagation_policy="Background")


def _has_default_account(core: client.CoreV1Api, namespace: str) -> bool:
    return any(
        a.metadata.name == "default" for a in core.list_namespaced_service_account(namespace).items
    )


def kubectl(
    plane: ControlPlane, *args: str, check: bool = True, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        ["kubectl", f"--kubeconfig={plane.kubeconfig}", *args],
        capture_output=True,
        text=True,
        input=stdin,
        timeout=120,
        check=False,
    )
    if check and done.returncode != 0:
        raise AssertionError(f"kubectl {' '.join(args)} failed:\n{done.stderr}")
    return done


def wait_for(predicate: Callable[[], Any], what: str, timeout: float = 60.0) -> Any:
    """Poll ``predicate`` until it returns something truthy; fail naming ``what``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


@pytest.fixture()
def workdir(tmp_path: Path) -> Path:
    return tmp_path


def reduced(example: str) -> dict[str, Any]:
    """An example with the test budget of its .expect.yaml."""
    document = yaml.safe_load((EXAMPLES / f"{example}.yaml").read_text())
    overrides = yaml.safe_load((EXAMPLES / f"{example}.expect.yaml").read_text())["overrides"]
    document["spec"] = deep_merge(document["spec"], overrides)
    return document


def apply(plane: ControlPlane, namespace: str, document: dict[str, Any]) -> None:
    kubectl(plane, "apply", "-n", namespace, "-f", "-", stdin=json.dumps(document))
