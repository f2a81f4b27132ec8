"""A real Kubernetes node for the tests: containerd, kubelet and kube-proxy inside the
cluster's network namespace, running pods in runc containers from the project's images.

Paths that containerd and the kubelet own live under one run directory, so teardown can
find every mount they made. Teardown removes the pods through the CRI, stops each process
by its PID, unmounts what is left and removes the pods' cgroups.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import yaml
from kubernetes import client

from tests.cluster.controlplane import terminate
from tests.cluster.netns import NODE_IP, POD_CIDR, NetworkNamespace

NODE_NAME = "stratopt-node"
#: Paths the kubelet writes whatever its flags say; removed at teardown if it made them.
KUBELET_FIXED_PATHS = (Path("/var/lib/kubelet"), Path("/var/log/containers"), Path("/var/lib/cni"))
GPU_COUNT = 2
CGROUP_ROOT = Path("/sys/fs/cgroup")


def kubelet_configuration(run: Path, socket: Path) -> dict[str, Any]:
    """Settings this machine needs (see the notes on each)."""
    return {
        "apiVersion": "kubelet.config.k8s.io/v1beta1",
        "kind": "KubeletConfiguration",
        # cgroup v1 hybrid host, no systemd.
        "failCgroupV1": False,
        "cgroupDriver": "cgroupfs",
        "containerRuntimeEndpoint": f"unix://{socket}",
        "imageServiceEndpoint": f"unix://{socket}",
        "address": NODE_IP,
        "readOnlyPort": 0,
        "healthzBindAddress": "127.0.0.1",
        # Reachable only inside the namespace.
        "authentication": {"anonymous": {"enabled": True}, "webhook": {"enabled": False}},
        "authorization": {"mode": "AlwaysAllow"},
        "failSwapOn": False,
        # Root lacks CAP_SYS_RESOURCE here: no negative oom_score_adj.
        "oomScoreAdj": 0,
        "podLogsDir": str(run / "pod-logs"),
        "volumePluginDir": str(run / "volume-plugins"),
        # Images cannot be pulled again, and the disk may be fuller than a node's would be.
        "evictionHard": {"nodefs.available": "1%", "imagefs.available": "1%"},
        "imageGCHighThresholdPercent": 100,
        "imageGCLowThresholdPercent": 99,
        # The host's resolver is unreachable inside the namespace.
        "resolvConf": str(run / "resolv.conf"),
        "serializeImagePulls": False,
        "maxPods": 110,
    }


def containerd_configuration(run: Path, root: Path, pause_image: str) -> str:
    """Every path under ``run``, so nothing touches /var/lib/containerd or /run/containerd,
    but the content and snapshots in ``root``, kept between runs: importing and unpacking
    the images is most of a cold start."""
    state = run / "containerd-state"
    return f"""
version = 4
root = "{root}"
state = "{state}"
imports = []

[plugins.'io.containerd.server.v1.grpc']
  address = "{run / "containerd.sock"}"

[plugins.'io.containerd.server.v1.ttrpc']
  address = "{run / "containerd.sock.ttrpc"}"

[plugins.'io.containerd.cri.v1.images']
  snapshotter = "overlayfs"
  [plugins.'io.containerd.cri.v1.images'.pinned_images]
    sandbox = "{pause_image}"

[plugins.'io.containerd.cri.v1.runtime']
  enable_selinux = false
  # Root lacks CAP_SYS_RESOURCE here: a negative oom_score_adj fails every sandbox.
  restrict_oom_score_adj = true
  netns_mounts_under_state_dir = true
  [plugins.'io.containerd.cri.v1.runtime'.containerd]
    default_runtime_name = "runc"
    [plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.runc.options]
        BinaryName = "/usr/sbin/runc"
        Root = "{run / "runc"}"
        SystemdCgroup = false
  [plugins.'io.containerd.cri.v1.runtime'.cni]
    bin_dirs = ["/usr/lib/cni"]
    conf_dir = "{run / "cni" / "net.d"}"

[plugins.'io.containerd.grpc.v1.cri']
  disable_tcp_service = true

[plugins.'io.containerd.nri.v1.nri']
  disable = true

[plugins.'io.containerd.shim.v1.manager']
  socket_dir = "{run / "s"}"
"""


def cni_configuration(run: Path) -> dict[str, Any]:
    return {
        "cniVersion": "1.0.0",
        "name": "stratopt",
        "plugins": [
            {
                "type": "bridge",
                "bridge": "cni0",
                "isGateway": True,
                "ipMasq": False,
                "hairpinMode": True,
                "ipam": {
                    "type": "host-local",
                    "ranges": [[{"subnet": POD_CIDR}]],
                    "routes": [{"dst": "0.0.0.0/0"}],
                    "dataDir": str(run / "cni" / "ipam"),
                },
            },
            {"type": "portmap", "capabilities": {"portMappings": True}},
        ],
    }


def kube_proxy_configuration(kubeconfig: Path) -> dict[str, Any]:
    return {
        "apiVersion": "kubeproxy.config.k8s.io/v1alpha1",
        "kind": "KubeProxyConfiguration",
        "clientConnection": {"kubeconfig": str(kubeconfig)},
        "mode": "iptables",
        "hostnameOverride": NODE_NAME,
        "clusterCIDR": POD_CIDR,
        "healthzBindAddress": "127.0.0.1:10256",
        "metricsBindAddress": "127.0.0.1:10249",
        # Leave the host's conntrack sysctls alone.
        "conntrack": {
            "maxPerCore": 0,
            "min": 0,
            "tcpEstablishedTimeout": "0s",
            "tcpCloseWaitTimeout": "0s",
        },
    }


@dataclass
class Node:
    """Started by :meth:`start`; :meth:`stop` leaves no process, mount or cgroup."""

    netns: NetworkNamespace
    bin: Path
    run: Path
    root: Path
    kubeconfig: Path
    images: dict[str, Any]
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    #: Each process's command line and environment, to start it again after a fault.
    commands: dict[str, tuple[list[str], dict[str, str]]] = field(default_factory=dict)
    import_seconds: float = 0.0
    made: list[Path] = field(default_factory=list)

    @property
    def socket(self) -> Path:
        return self.run / "containerd.sock"

    def start(self, api: client.ApiClient) -> None:
        self.run.mkdir(parents=True, exist_ok=True)
        self.made = [path for path in KUBELET_FIXED_PATHS if not path.exists()]
        (self.run / "cni" / "net.d").mkdir(parents=True)
        (self.run / "cni" / "net.d" / "10-stratopt.conflist").write_text(
            json.dumps(cni_configuration(self.run))
        )
        (self.run / "resolv.conf").write_text(
            "nameserver 127.0.0.1\noptions timeout:1 attempts:1\n"
        )
        config = self.run / "containerd.toml"
        pause = self.image_ref(self.images["pause"])
        config.write_text(containerd_configuration(self.run, self.root, pause))
        # containerd finds its runc shim on PATH.
        path = f"{self.bin}:{os.environ['PATH']}"
        self._spawn("containerd", [str(self.bin / "containerd"), f"--config={config}"], PATH=path)
        self._wait(lambda: self.ctr("version", check=False).returncode == 0, "containerd", 30)
        self._wait(lambda: self.crictl("info").returncode == 0, "containerd's CRI", 30)
        started = time.monotonic()
        if not self.has_images():
            for archive in self.images["archives"]:
                self.ctr("images", "import", archive, timeout=900)
        self.import_seconds = time.monotonic() - started

        kubelet_config = self.run / "kubelet.yaml"
        kubelet_config.write_text(yaml.safe_dump(kubelet_configuration(self.run, self.socket)))
        self._spawn(
            "kubelet",
            [
                str(self.bin / "kubelet"),
                f"--config={kubelet_config}",
                f"--kubeconfig={self.kubeconfig}",
                f"--root-dir={self.run / 'kubelet'}",
                f"--cert-dir={self.run / 'kubelet-pki'}",
                f"--hostname-override={NODE_NAME}",
                f"--node-ip={NODE_IP}",
                "--node-labels=nvidia.com/gpu.present=true",
                "--v=1",
            ],
        )
        core = client.CoreV1Api(api)
        self._wait(lambda: self._ready(core), "the node to be Ready", 90)
        # Fake GPUs: the scheduler needs only the advertised capacity, no device plugin.
        gpus = [
            {"op": "add", "path": f"/status/{part}/nvidia.com~1gpu", "value": str(GPU_COUNT)}
            for part in ("capacity", "allocatable")
        ]
        core.patch_node_status(NODE_NAME, gpus)  # a list body is sent as a JSON patch
        proxy_config = self.run / "kube-proxy.yaml"
        proxy_config.write_text(yaml.safe_dump(kube_proxy_configuration(self.kubeconfig)))
        self._spawn("kube-proxy", [str(self.bin / "kube-proxy"), f"--config={proxy_config}"])
        self.check_runs_a_pod(core)

    def check_runs_a_pod(
        self,
        core: client.CoreV1Api,
        name: str = "stratopt-node-check",
        image: str | None = None,
        timeout: float = 120,
    ) -> None:
        """Run one pod of the worker image to its end. A node that is Ready but cannot run
        pods (a full disk, a sandbox or an image that fails) fails here, at once and saying
        why, rather than in the timeout of every test that needs a pod."""
        pod = client.V1Pod(
            metadata=client.V1ObjectMeta(name=name),
            spec=client.V1PodSpec(
                restart_policy="Never",
                automount_service_account_token=False,
                containers=[
                    client.V1Container(
                        name="check",
                        image=image or self.images["worker"],
                        image_pull_policy="Never",
                        command=["python", "-c", "pass"],
                    )
                ],
            ),
        )
        deadline = time.monotonic() + timeout
        while True:
            try:
                core.create_namespaced_pod("default", pod)
                break
            except client.ApiException as refused:
                # Until the controller has made the namespace's default ServiceAccount.
                if "serviceaccount" not in str(refused.body) or time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
        phase = None
        while time.monotonic() < deadline and phase not in ("Succeeded", "Failed"):
            time.sleep(0.2)
            phase = core.read_namespaced_pod(name, "default").status.phase
        try:
            if phase != "Succeeded":
                raise RuntimeError(
                    f"the node is Ready but its check pod ended {phase or 'nowhere'} "
                    f"within {timeout:.0f}s\n{self.diagnosis(core, name)}"
                )
        finally:
            core.delete_namespaced_pod(name, "default", grace_period_seconds=0)

    def diagnosis(self, core: client.CoreV1Api, pod: str) -> str:
        """What a person would look at first: the pod's status and events, the node's
        conditions, free disk space and the node's own logs."""
        status = core.read_namespaced_pod(pod, "default").status
        events = core.list_namespaced_event(
            "default", field_selector=f"involvedObject.name={pod}"
        ).items
        conditions = core.read_node(NODE_NAME).status.conditions or []
        disks = {
            str(path): f"{shutil.disk_usage(path).free / 2**30:.1f} GiB free"
            for path in (self.run, self.root)
        }
        lines = [
            f"pod: {status.phase} {status.reason or ''} {status.message or ''}",
            *(f"  container: {c.state}" for c in status.container_statuses or []),
            *(f"  event: {e.reason}: {e.message}" for e in events),
            *(f"node: {c.type}={c.status} {c.reason}: {c.message}" for c in conditions),
            f"disk: {disks}",
            *(f"--- {name}\n{self.log_tail(name)}" for name in self.processes),
        ]
        return "\n".join(lines)

    def has_images(self) -> bool:
        """Whether containerd holds every image, each at the ID Docker built."""
        listing = json.loads(self.crictl("images", "--output=json").stdout or "{}")
        held = {
            tag: image["id"] for image in listing.get("images", []) for tag in image["repoTags"]
        }
        return all(held.get(self.image_ref(name)) == id for name, id in self.images["ids"].items())

    @staticmethod
    def image_ref(name: str) -> str:
        """The name containerd gives an imported image (short names are docker.io's)."""
        return name if "/" in name.split(":")[0] else f"docker.io/library/{name}"

    def _ready(self, core: client.CoreV1Api) -> bool:
        for name in self.processes:
            self._check_alive(name)
        try:
            node = core.read_node(NODE_NAME)
        except client.ApiException:
            return False
        return any(c.type == "Ready" and c.status == "True" for c in node.status.conditions or [])

    def ctr(
        self, *args: str, check: bool = True, timeout: float = 60
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(self.bin / "ctr"), f"--address={self.socket}", "--namespace=k8s.io", *args],
            capture_output=True,
            text=True,
            check=check,
            timeout=timeout,
        )

    def crictl(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(self.bin / "crictl"), f"--runtime-endpoint=unix://{self.socket}", *args],
            capture_output=True,
            text=True,
            check=False,
            timeout=timeout,
        )

    @contextlib.contextmanager
    def container_timeline(self) -> Iterator[list[tuple[float, str, str]]]:
        """(wall-clock seconds, "start" | "end", pod name) of every workload container
        while the block runs, from containerd's task events: pod timestamps in the API
        have whole-second resolution."""
        timeline: list[tuple[float, str, str]] = []
        pods: dict[str, str] = {}
        events = subprocess.Popen(
            [str(self.bin / "ctr"), f"--address={self.socket}", "events"],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            start_new_session=True,
        )

        def follow() -> None:
            assert events.stdout is not None
            for line in events.stdout:
                # "2026-12-02 00:57:27.177805703 +0000 UTC k8s.io /tasks/start {...}"
                words = line.split(maxsplit=6)
                if len(words) < 7 or words[5] not in ("/tasks/start", "/tasks/exit"):
                    continue
                stamp = datetime.fromisoformat(f"{words[0]}T{words[1][:15]}+00:00")
                moment = stamp.timestamp()
                container = json.loads(words[6]).get("container_id", "")
                if words[5] == "/tasks/start":
                    labels = json.loads(self.ctr("containers", "info", container).stdout)
                    labels = labels.get("Labels") or {}
                    if labels.get("io.kubernetes.container.name", "POD") != "POD":
                        pods[container] = labels["io.kubernetes.pod.name"]
                if container in pods:
                    kind = "start" if words[5] == "/tasks/start" else "end"
                    timeline.append((moment, kind, pods[container]))

        reader = threading.Thread(target=follow, daemon=True)
        reader.start()
        try:
            yield timeline
        finally:
            terminate(events)  # type: ignore[arg-type]
            reader.join(timeout=5)

    def kill_container(self, container_id: str) -> None:
        """SIGKILL a container's process through containerd, as an OOM kill or a crash
        would end it: a real fault, outside the product's code."""
        self.ctr("tasks", "kill", "--signal", "SIGKILL", container_id.removeprefix("containerd://"))

    def oom_kill(self, container_id: str) -> None:
        """Lower a container's memory limit to just above what it uses: its next
        allocations exceed the limit and the kernel's OOM killer ends it, as it ends a
        worker that outgrows its limit (containerd reports it OOMKilled)."""
        found = json.loads(self.crictl("inspect", container_id).stdout)
        path = found["info"]["runtimeSpec"]["linux"]["cgroupsPath"].lstrip("/")
        memory = CGROUP_ROOT / "memory" / path
        used = int((memory / "memory.usage_in_bytes").read_text())
        (memory / "memory.limit_in_bytes").write_text(str(used + 256 * 1024))

    def halt(self, name: str) -> None:
        """Stop one of the node's processes (SIGTERM); its pods' containers run on."""
        terminate(self.processes[name])

    def resume(self, name: str) -> int:
        """Start a halted process again as it was started; its new PID."""
        argv, environment = self.commands[name]
        self._spawn(name, argv, **environment)
        if name == "containerd":  # as at start: the kubelet exits on a runtime not serving
            self._wait(lambda: self.crictl("info").returncode == 0, "containerd's CRI", 30)
        return self.processes[name].pid

    def _spawn(self, name: str, argv: list[str], **environment: str) -> None:
        self.commands[name] = (argv, environment)
        with open(self.run / f"{name}.log", "ab") as log:
            self.processes[name] = subprocess.Popen(
                self.netns.command(argv),
                env={**os.environ, **environment},
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )

    def _check_alive(self, name: str) -> None:
        if self.processes[name].poll() is not None:
            raise RuntimeError(f"{name} exited:\n{self.log_tail(name)}")

    def _wait(self, ready: Any, what: str, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if ready():
                return
            time.sleep(0.2)
        logs = "\n".join(f"--- {name}\n{self.log_tail(name)}" for name in self.processes)
        raise TimeoutError(f"timed out after {timeout}s waiting for {what}\n{logs}")

    def log_tail(self, name: str, lines: int = 30) -> str:
        path = self.run / f"{name}.log"
        if not path.exists():
            return ""
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])

    def stop(self) -> None:
        """Pods through the CRI, then each process by PID in reverse start order, then
        every mount under the run directory, then the pods' cgroups."""
        if "containerd" in self.processes and self.processes["containerd"].poll() is None:
            if "kubelet" in self.processes:
                terminate(self.processes.pop("kubelet"))
            self.crictl("rmp", "--all", "--force")
        for process in reversed(list(self.processes.values())):
            terminate(process)
        self.processes.clear()
        unmount_under(self.run)
        remove_cgroups("kubepods")
        for path in self.made:
            shutil.rmtree(path, ignore_errors=True)


def mounts_under(root: Path) -> list[str]:
    prefix = str(root.resolve())
    points = []
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        point = line.split()[4].encode().decode("unicode_escape")
        if point == prefix or point.startswith(prefix + "/"):
            points.append(point)
    return points


def unmount_under(root: Path) -> None:
    """Deepest first, until none is left (a bind mount may hide another)."""
    for _ in range(5):
        points = mounts_under(root)
        if not points:
            return
        for point in sorted(set(points), key=lambda p: p.count("/"), reverse=True):
            subprocess.run(["umount", "--lazy", point], capture_output=True, check=False)
    left = mounts_under(root)
    if left:
        raise RuntimeError(f"mounts left under {root}: {left}")


def remove_cgroups(name: str) -> None:
    """Remove ``name`` and everything below it in every cgroup v1 hierarchy (or the
    unified v2 one), deepest first (a cgroup goes only once its children and tasks are
    gone)."""
    for hierarchy in [CGROUP_ROOT, *(p for p in CGROUP_ROOT.iterdir() if p.is_dir())]:
        top = hierarchy / name
        if not top.is_dir():
            continue
        for directory in sorted(
            (p for p in top.rglob("*") if p.is_dir()), key=lambda p: len(p.parts), reverse=True
        ):
            directory.rmdir()
        top.rmdir()
