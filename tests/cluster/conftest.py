"""Fixtures for tests against a real cluster: a control plane and a real node (containerd,
kubelet, kube-proxy) in a network namespace of their own, the project's images in the
node, the shipped CRDs applied, the operator's credentials as the Helm chart grants them,
and a fresh namespace per test under the restricted Pod Security profile.

Only the kubeconfig these fixtures write is ever used: ``KUBECONFIG`` points at it for
the whole session and any other is refused, so a developer's cluster is never touched.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from types import FrameType
from typing import Any

import pytest
import yaml
from kubernetes import client, config

from tests.cluster.controlplane import ROOT, ControlPlane, built, kubeconfig
from tests.cluster.leftovers import CACHE, Ledger, reclaim
from tests.cluster.netns import FENCED, NetworkNamespace
from tests.cluster.node import Node
from tests.cluster.operator_process import OperatorProcess, operator_process
from tests.cluster.waiting import wait_for


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


@pytest.fixture(scope="session")
def ledger() -> Ledger:
    """The record of what this run starts, for a later run to reclaim if this one is
    killed before its teardown."""
    for step in reclaim():
        print(f"reclaimed from a killed run: {step}")
    return Ledger()


@pytest.fixture(scope="session")
def control_plane(
    tmp_path_factory: pytest.TempPathFactory, ledger: Ledger
) -> Iterator[ControlPlane]:
    """The namespace, fenced, then the control plane in it; both gone afterwards, also
    when the run is interrupted (SIGTERM and SIGHUP end it like Ctrl-C)."""
    previous_handlers = {
        number: signal.signal(number, _interrupt) for number in (signal.SIGTERM, signal.SIGHUP)
    }
    netns = NetworkNamespace(f"stratopt-test-{os.getpid()}")
    plane = ControlPlane(tmp_path_factory.mktemp("controlplane"), netns)
    previous = os.environ.get("KUBECONFIG")
    try:
        ledger.netns(netns.name, FENCED)
        netns.create()
        plane.start()
        for process in [*netns.forwarders, *plane.processes.values()]:
            ledger.process(process.pid)
        os.environ["KUBECONFIG"] = str(plane.kubeconfig)
        yield plane
    finally:
        plane.stop()
        netns.destroy()
        ledger.close()
        if previous is None:
            os.environ.pop("KUBECONFIG", None)
        else:
            os.environ["KUBECONFIG"] = previous
        for number, handler in previous_handlers.items():
            signal.signal(number, handler)


@pytest.fixture(scope="session")
def api(control_plane: ControlPlane) -> client.ApiClient:
    assert os.environ["KUBECONFIG"] == str(control_plane.kubeconfig), "foreign kubeconfig"
    return config.new_client_from_config(str(control_plane.kubeconfig))


@pytest.fixture(scope="session")
def images() -> dict[str, Any]:
    """The project's images, built from its Dockerfiles (cached by Docker's layers)."""
    return built("build-images.sh")


@pytest.fixture(scope="session")
def node(
    api: client.ApiClient,
    control_plane: ControlPlane,
    images: dict[str, Any],
    ledger: Ledger,
) -> Iterator[Node]:
    """The real node, with the images imported. Operators started in this process shape
    their Jobs for it: the local images, never pulled, and requests that let several
    worker pods share this machine's cores."""
    # A short path: containerd's shim sockets live below it, within the 108-byte limit.
    run = Path(tempfile.mkdtemp(prefix="stratopt-node-", dir="/tmp"))
    real = Node(
        control_plane.netns,
        control_plane.bin,
        run,
        CACHE / "containerd",
        control_plane.inner_kubeconfig,
        images,
    )
    ledger.mounts(run)
    try:
        real.start(api)
        for process in real.processes.values():
            ledger.process(process.pid)
        os.environ.update(
            STRATOPT_IMAGE=images["worker"],
            STRATOPT_GPU_IMAGE=images["gpuWorker"],
            STRATOPT_IMAGE_PULL_POLICY="Never",
            STRATOPT_CPU_REQUEST=WORKER_CPU,
            STRATOPT_MEMORY_REQUEST=WORKER_MEMORY,
        )
        yield real
    finally:
        real.stop()
        shutil.rmtree(run, ignore_errors=True)


#: Worker requests: small, so that the examples' pods run side by side on two cores.
WORKER_CPU = "100m"
WORKER_MEMORY = "256Mi"


@pytest.fixture(scope="session")
def kueue(control_plane: ControlPlane, node: Node) -> str:
    """A real Kueue, installed once; its Job webhooks serve the namespaces labelled with
    the name returned."""
    from tests.cluster import kueue

    kueue.install(control_plane, node)
    return kueue.KUEUE_NAMESPACE


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
#: Every test namespace enforces the restricted profile: a pod breaking it fails a test.
RESTRICTED = ("pod-security.kubernetes.io/enforce=restricted",)
OPERATOR_ACCOUNT = "stratopt-operator"


def render_chart(
    plane: ControlPlane,
    *values: str,
    release: str = "stratopt",
    namespace: str = OPERATOR_NAMESPACE,
) -> list[dict[str, Any]]:
    """``helm template`` of charts/stratopt, installed as ``release`` in ``namespace``."""
    done = subprocess.run(
        [
            str(plane.bin / "helm"),
            "template",
            release,
            str(ROOT / "charts" / "stratopt"),
            "--namespace",
            namespace,
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
    """Credentials of the chart's operator ServiceAccount, bound to the chart's ClusterRole
    (as the chart renders it for high availability and Kueue): an operator using them holds exactly
    what the chart grants, so a missing permission fails a test."""
    rbac = [
        document
        for document in render_chart(control_plane, "peering=stratopt", "kueue.enabled=true")
        if document["kind"] in ("ServiceAccount", "ClusterRole", "ClusterRoleBinding")
    ]
    assert len(rbac) == 3, [d["kind"] for d in rbac]
    kubectl(control_plane, "create", "namespace", OPERATOR_NAMESPACE)
    kubectl(control_plane, "label", "namespace", OPERATOR_NAMESPACE, *RESTRICTED)
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
    labels = dict(label.split("=") for label in RESTRICTED)
    core.create_namespace(
        client.V1Namespace(metadata=client.V1ObjectMeta(name=name, labels=labels))
    )
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
        [str(plane.bin / "kubectl"), f"--kubeconfig={plane.kubeconfig}", *args],
        capture_output=True,
        text=True,
        input=stdin,
        timeout=120,
        check=False,
    )
    if check and done.returncode != 0:
        raise AssertionError(f"kubectl {' '.join(args)} failed:\n{done.stderr}")
    return done


@pytest.fixture()
def workdir(tmp_path: Path) -> Path:
    return tmp_path


def report_page(plane: ControlPlane, namespace: str, source: str, workdir: Path) -> str:
    """The page ``stratopt report SOURCE`` writes of a resource, through the kubeconfig."""
    from tests.browser import inspect_page
    from tests.test_cli import stratopt

    out = workdir / f"report-{source.replace('/', '-')}"
    done = stratopt(
        "report", source, "-n", namespace, "--kubeconfig", str(plane.kubeconfig), "--out", str(out)
    )
    assert done.returncode == 0, done.stderr
    inspect_page(out / "report.html", out / "shots").assert_rendered()
    return (out / "report.html").read_text()


def apply(
    plane: ControlPlane,
    namespace: str,
    document: dict[str, Any],
    *,
    dry_run: bool = False,
    check: bool = True,
) -> subprocess.CompletedProcess[str]:
    """``kubectl apply`` of ``document``; with ``dry_run``, only the API server's verdict."""
    server = ("--dry-run=server",) if dry_run else ()
    return kubectl(
        plane, "apply", *server, "-n", namespace, "-f", "-", stdin=json.dumps(document), check=check
    )


@pytest.fixture()
def cli_operator(
    namespace: str, operator_kubeconfig: Path, node: Node, ledger: Ledger, workdir: Path
) -> Iterator[OperatorProcess]:
    """``stratopt operator -n NAMESPACE --log-format json`` in a process of its own."""
    with operator_process(namespace, operator_kubeconfig, ledger, workdir) as running:
        yield running
