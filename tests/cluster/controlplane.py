"""A real Kubernetes control plane inside the test cluster's network namespace: etcd,
kube-apiserver, kube-controller-manager and kube-scheduler as processes there.

Binaries come from ``hack/build-cluster.sh`` (built from the Go module proxy and cached).
Authentication is a static admin token; ServiceAccount tokens are signed with a key made
here, so workloads can be given real, RBAC-limited credentials. Host-side clients reach
the API server through a forwarder on 127.0.0.1 (see ``netns``).
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import socket
import ssl
import subprocess
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from tests.cluster.netns import API_PORT, NODE_IP, SERVICE_CIDR, NetworkNamespace

ROOT = Path(__file__).resolve().parents[2]
CONTROLLERS = (
    "job-controller,garbage-collector-controller,namespace-controller,"
    "serviceaccount-controller,ttl-after-finished-controller,replicaset-controller,"
    "deployment-controller,pod-garbage-collector-controller,"
    # Pods mount the cluster's CA and reach Services through EndpointSlices.
    "root-ca-certificate-publisher-controller,endpointslice-controller,"
    # ResourceQuotas are counted, so a quota can refuse a Job's pods.
    "resourcequota-controller"
)
#: The API server's audit log records who created the workers' permissions, and how
#: often: nothing else (each entry costs the API server work).
AUDIT_POLICY = {
    "apiVersion": "audit.k8s.io/v1",
    "kind": "Policy",
    "omitStages": ["RequestReceived"],
    "rules": [
        {
            "level": "Metadata",
            "verbs": ["create"],
            "resources": [
                {"group": "", "resources": ["serviceaccounts"]},
                {"group": "rbac.authorization.k8s.io", "resources": ["roles", "rolebindings"]},
                {"group": "batch", "resources": ["jobs"]},
            ],
        },
        {"level": "None"},
    ],
}
#: Inside the namespace: the API server's certificate covers localhost, not 127.0.0.1.
INNER_SERVER = f"https://localhost:{API_PORT}"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def cached(script: str) -> Path:
    """The folder or file a ``hack/`` script fills once and prints last (a second run is
    a no-op)."""
    done = subprocess.run(
        ["bash", str(ROOT / "hack" / script)], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr[-4000:]
    return Path(done.stdout.strip().splitlines()[-1])


def built(script: str) -> dict[str, Any]:
    """What an image script built, from the JSON file it prints."""
    found: dict[str, Any] = json.loads(cached(script).read_text())
    return found


def terminate(process: subprocess.Popen[bytes], grace: float = 15) -> None:
    """SIGTERM ``process``'s group, SIGKILL it after ``grace`` seconds."""
    if process.poll() is not None:
        return
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def binaries() -> Path:
    """The cached binaries' folder, building them first if needed."""
    return cached("build-cluster.sh")


def kubeconfig(server: str, token: str, user: str, ca: Path) -> dict[str, object]:
    """A kubeconfig for ``server`` trusting ``ca`` and authenticating with ``token``."""
    return {
        "apiVersion": "v1",
        "kind": "Config",
        "current-context": "test",
        "clusters": [
            {"name": "test", "cluster": {"server": server, "certificate-authority": str(ca)}}
        ],
        "users": [{"name": user, "user": {"token": token}}],
        "contexts": [{"name": "test", "context": {"cluster": "test", "user": user}}],
    }


@dataclass
class ControlPlane:
    """The running processes and how to reach them."""

    workdir: Path
    netns: NetworkNamespace
    bin: Path = field(default_factory=binaries)
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    #: Each process's arguments, to start it again after a fault.
    arguments: dict[str, list[str]] = field(default_factory=dict)
    token: str = field(default_factory=lambda: secrets.token_hex(16))
    forward_port: int = 0
    startup_seconds: float = 0.0

    @property
    def kubeconfig(self) -> Path:
        """Host-side admin credentials, through the loopback forwarder."""
        return self.workdir / "admin.kubeconfig"

    @property
    def inner_kubeconfig(self) -> Path:
        """Admin credentials for processes inside the namespace."""
        return self.workdir / "inner.kubeconfig"

    @property
    def ca(self) -> Path:
        """The apiserver's self-signed serving certificate, trusted as its own CA."""
        return self.workdir / "certs" / "apiserver.crt"

    @property
    def server(self) -> str:
        return f"https://localhost:{self.forward_port}"

    @property
    def audit_policy(self) -> Path:
        return self.workdir / "audit-policy.yaml"

    @property
    def audit_log(self) -> Path:
        """One JSON line per audited request (see AUDIT_POLICY)."""
        return self.workdir / "audit.log"

    def audited(self) -> list[dict[str, Any]]:
        """The audit log's entries so far."""
        if not self.audit_log.exists():
            return []
        return [json.loads(line) for line in self.audit_log.read_text().splitlines() if line]

    def start(self) -> None:
        started = time.monotonic()
        self.workdir.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            ["openssl", "genrsa", "-out", str(self.workdir / "sa.key"), "2048"],
            check=True,
            capture_output=True,
        )
        (self.workdir / "tokens.csv").write_text(f'{self.token},admin,admin,"system:masters"\n')
        self.audit_policy.write_text(yaml.safe_dump(AUDIT_POLICY))
        etcd = "http://127.0.0.1:2379"
        self._spawn(
            "etcd",
            [
                "--data-dir",
                str(self.workdir / "etcd"),
                "--name",
                "test",
                "--listen-client-urls",
                etcd,
                "--advertise-client-urls",
                etcd,
                "--listen-peer-urls",
                "http://127.0.0.1:2380",
                "--log-level",
                "warn",
                "--unsafe-no-fsync",
            ],
        )
        self._spawn(
            "kube-apiserver",
            [
                f"--etcd-servers={etcd}",
                "--bind-address=0.0.0.0",
                f"--advertise-address={NODE_IP}",
                f"--secure-port={API_PORT}",
                f"--cert-dir={self.workdir / 'certs'}",
                "--service-account-issuer=https://kubernetes.default.svc",
                f"--service-account-key-file={self.workdir / 'sa.key'}",
                f"--service-account-signing-key-file={self.workdir / 'sa.key'}",
                "--authorization-mode=RBAC",
                f"--token-auth-file={self.workdir / 'tokens.csv'}",
                f"--service-cluster-ip-range={SERVICE_CIDR}",
                "--allow-privileged=true",
                "--kubelet-preferred-address-types=InternalIP",
                # On by default; named so that the restricted profile's tests cannot lose it.
                "--enable-admission-plugins=PodSecurity",
                # No node-lifecycle controller runs, so nothing would lift the not-ready taint.
                "--disable-admission-plugins=TaintNodesByCondition",
                f"--audit-policy-file={self.audit_policy}",
                f"--audit-log-path={self.audit_log}",
                "--audit-log-mode=blocking",
                "--v=0",
            ],
        )
        self.forward_port = free_port()
        self.netns.forward(self.forward_port, f"127.0.0.1:{API_PORT}")
        self._wait(f"{self.server}/readyz", "kube-apiserver", token=self.token)
        self.kubeconfig.write_text(
            yaml.safe_dump(kubeconfig(self.server, self.token, "admin", self.ca))
        )
        self.inner_kubeconfig.write_text(
            yaml.safe_dump(kubeconfig(INNER_SERVER, self.token, "admin", self.ca))
        )
        common = [
            f"--kubeconfig={self.inner_kubeconfig}",
            "--leader-elect=false",
            "--bind-address=127.0.0.1",
            "--v=0",
        ]
        self._spawn(
            "kube-controller-manager",
            [
                *common,
                f"--controllers={CONTROLLERS}",
                f"--service-account-private-key-file={self.workdir / 'sa.key'}",
                f"--root-ca-file={self.ca}",
            ],
        )
        self._spawn("kube-scheduler", common)
        self.startup_seconds = time.monotonic() - started

    def halt(self, name: str) -> None:
        """Stop one process (SIGTERM, as an orderly shutdown or a restart would)."""
        terminate(self.processes[name], grace=20)

    def resume(self, name: str) -> int:
        """Start a halted process again, with its arguments and data; its new PID."""
        self._spawn(name, self.arguments[name])
        if name == "kube-apiserver":
            self._wait(f"{self.server}/readyz", name, token=self.token)
        return self.processes[name].pid

    def _spawn(self, name: str, args: list[str]) -> None:
        self.arguments[name] = args
        with open(self.workdir / f"{name}.log", "ab") as log:
            self.processes[name] = subprocess.Popen(
                self.netns.command([str(self.bin / name), *args]),
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )

    def _wait(self, url: str, name: str, token: str | None = None, timeout: float = 60) -> None:
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for process, running in self.processes.items():
                if running.poll() is not None:
                    raise RuntimeError(f"{process} exited:\n{self.log_tail(process)}")
            request = urllib.request.Request(url)
            if token:
                request.add_header("Authorization", f"Bearer {token}")
            try:
                with urllib.request.urlopen(request, context=context, timeout=2) as response:
                    if response.status == 200:
                        return
            except OSError:
                pass
            time.sleep(0.2)
        raise TimeoutError(f"{name} not ready after {timeout}s:\n{self.log_tail(name)}")

    def log_tail(self, name: str, lines: int = 30) -> str:
        path = self.workdir / f"{name}.log"
        if not path.exists():
            return ""
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])

    def stop(self) -> None:
        """Stop in reverse start order, each before the next, so none waits on a dead peer."""
        for process in reversed(list(self.processes.values())):
            terminate(process, grace=10)
        self.processes.clear()
