"""NetworkPolicy enforcement for the test node: kube-network-policies (SIG Network's
implementation, built by ``hack/build-cluster.sh``) as a node process in the cluster's
network namespace, beside kube-proxy. It puts the first packet of each connection of a
pod that a policy selects on an NFQUEUE and drops what the policies do not allow.

It reads its API credentials only from the in-cluster paths, so it runs in a mount
namespace of its own where a tmpfs over /run holds them; the host's /run is untouched.
"""

from __future__ import annotations

import os
import signal
import subprocess
from pathlib import Path

from tests.cluster.controlplane import ControlPlane
from tests.cluster.netns import API_PORT
from tests.cluster.node import NODE_NAME

ACCOUNT = "/run/secrets/kubernetes.io/serviceaccount"


class PolicyEngine:
    def __init__(self, plane: ControlPlane, workdir: Path) -> None:
        self.plane, self.workdir = plane, workdir
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def log(self) -> Path:
        return self.workdir / "kube-network-policies.log"

    def start(self) -> int:
        self.workdir.mkdir(parents=True, exist_ok=True)
        (self.workdir / "token").write_text(self.plane.token)
        script = (
            "set -e; mount -t tmpfs tmpfs /run; "
            f'mkdir -p {ACCOUNT}; cp "$1/token" {ACCOUNT}/token; cp "$2" {ACCOUNT}/ca.crt; '
            'shift 2; exec "$@"'
        )
        argv = [
            "unshare",
            "--mount",
            "--propagation",
            "private",
            "sh",
            "-c",
            script,
            "policy-engine",
            str(self.workdir),
            str(self.plane.ca),
            str(self.plane.bin / "kube-network-policies"),
            f"--hostname-override={NODE_NAME}",
            "--disable-nri",  # pod IPs come from the API, as they do for kube-proxy
            "--metrics-bind-address=127.0.0.1:0",
            "--v=2",
        ]
        environment = {
            **os.environ,
            # The API server's certificate covers localhost (see controlplane).
            "KUBERNETES_SERVICE_HOST": "localhost",
            "KUBERNETES_SERVICE_PORT": str(API_PORT),
        }
        with open(self.log, "wb") as log:
            self.process = subprocess.Popen(
                self.plane.netns.command(argv),
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=environment,
                start_new_session=True,
            )
        return self.process.pid

    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def log_tail(self, lines: int = 30) -> str:
        text = self.log.read_text(errors="replace") if self.log.exists() else ""
        return "\n".join(text.splitlines()[-lines:])

    def stop(self) -> None:
        """SIGTERM: it removes its nftables table on the way out."""
        if self.process is None or self.process.poll() is not None:
            return
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()
