"""Fixtures for tests against a real control plane: the processes, the node agent,
the shipped CRDs applied, and a fresh namespace per test.

Only the kubeconfig these fixtures write is ever used: ``KUBECONFIG`` points at it for
the whole session and any other is refused, so a developer's cluster is never touched.
"""

from __future__ import annotations

import os
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client, config

from tests.cluster.controlplane import ROOT, ControlPlane
from tests.cluster.node_agent import NodeAgent


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
