"""The test cluster's network namespace, fenced off from the machine's network.

Everything of the cluster (control plane, containerd, kubelet, kube-proxy, pods) lives in
one network namespace. Before it exists, host-side ``blackhole`` routes cover the node,
pod and service ranges, and a check refuses to go on if any of those addresses would
leave by the machine's interface. Host-side clients reach the API server only through a
forwarder bound to 127.0.0.1 that enters the namespace for each connection.
"""

from __future__ import annotations

import ipaddress
import os
import signal
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

NODE_SUBNET = "10.201.0.0/24"
NODE_IP = "10.201.0.2"
POD_CIDR = "10.202.0.0/24"
SERVICE_CIDR = "10.203.0.0/24"
#: The ``kubernetes`` Service: the first address of the service range.
API_SERVICE_IP = "10.203.0.1"
API_PORT = 6443
#: Blackholed on the host while the cluster runs.
FENCED = (NODE_SUBNET, POD_CIDR, SERVICE_CIDR)
NODE_INTERFACE = "node0"
NETNS_DIR = Path("/run/netns")


def ip(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["ip", *args], capture_output=True, text=True, check=check, timeout=30)


def external_interfaces() -> set[str]:
    """Interfaces of the host's default routes: where a stray packet would leave."""
    names = set()
    for family in ("-4", "-6"):
        for line in ip(family, "route", "show", "default", check=False).stdout.splitlines():
            words = line.split()
            if "dev" in words:
                names.add(words[words.index("dev") + 1])
    return names


def probe_addresses(cidr: str) -> list[str]:
    network = ipaddress.ip_network(cidr)
    return [str(network.network_address + 1), str(network.broadcast_address - 1)]


@dataclass
class NetworkNamespace:
    """Created by :meth:`create`, removed with every route by :meth:`destroy`."""

    name: str
    blackholes: list[str] = field(default_factory=list)
    forwarders: list[subprocess.Popen[bytes]] = field(default_factory=list)

    @property
    def path(self) -> Path:
        return NETNS_DIR / self.name

    def create(self) -> None:
        for cidr in FENCED:
            ours = ip("route", "show", "exact", cidr).stdout
            if ours.strip():
                raise RuntimeError(f"host already has a route for {cidr}: {ours.strip()}")
            ip("route", "add", "blackhole", cidr)
            self.blackholes.append(cidr)
        self.check_fenced()
        ip("netns", "add", self.name)
        ip("-n", self.name, "link", "set", "lo", "up")
        # No dummy links in this kernel: one end of a veth pair is the node's interface.
        ip("-n", self.name, "link", "add", NODE_INTERFACE, "type", "veth", "peer", "name", "peer0")
        ip("-n", self.name, "addr", "add", f"{NODE_IP}/24", "dev", NODE_INTERFACE)
        ip("-n", self.name, "link", "set", NODE_INTERFACE, "up")
        ip("-n", self.name, "link", "set", "peer0", "up")
        # Local clients need a route to Service addresses before kube-proxy's DNAT applies
        # (a node's default route would give them one; this one has none, on purpose).
        ip("-n", self.name, "route", "add", SERVICE_CIDR, "dev", NODE_INTERFACE)

    def check_fenced(self) -> None:
        """Refuse to go on unless every cluster address is blackholed on the host."""
        leaving = external_interfaces()
        for cidr in FENCED:
            for address in probe_addresses(cidr):
                route = ip("route", "get", address, check=False)
                if route.returncode == 0:  # a blackholed address has no route to get
                    words = route.stdout.split()
                    device = words[words.index("dev") + 1] if "dev" in words else "?"
                    where = "leave the machine" if device in leaving else f"go to {device}"
                    raise RuntimeError(
                        f"{address} would {where} ({route.stdout.strip()}); "
                        "refusing to start the test cluster"
                    )

    def command(self, argv: list[str]) -> list[str]:
        """``argv`` run inside the namespace, sharing the host's mount namespace (which
        ``ip netns exec`` would not: containerd must see the kubelet's mounts)."""
        return ["nsenter", f"--net={self.path}", "--", *argv]

    def forward(self, local_port: int, target: str) -> None:
        """Accept on 127.0.0.1:``local_port`` and connect each client to ``target``
        (host:port) inside the namespace."""
        inner = f"nsenter --net={self.path} -- socat STDIO TCP:{target}"
        inner = inner.replace(":", "\\:")  # socat splits addresses at unescaped colons
        self.forwarders.append(
            subprocess.Popen(
                [
                    "socat",
                    f"TCP-LISTEN:{local_port},bind=127.0.0.1,reuseaddr,fork",
                    f"EXEC:{inner}",
                ],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                start_new_session=True,
            )
        )

    def destroy(self) -> None:
        """Forwarders, then the namespace, then the routes: the fence goes last."""
        for forwarder in self.forwarders:
            if forwarder.poll() is None:
                os.killpg(forwarder.pid, signal.SIGTERM)
                forwarder.wait(timeout=10)
        self.forwarders.clear()
        if self.path.exists():
            ip("netns", "delete", self.name, check=False)
        for cidr in reversed(self.blackholes):
            ip("route", "del", "blackhole", cidr, check=False)
        self.blackholes.clear()
