"""A node agent for tests: registers Nodes and runs the pods bound to them as local
processes, reporting their status the way a kubelet does.

There is no container runtime here, so images are ignored and each container's
``command`` + ``args`` run in the project's environment. The real Job controller,
scheduler and garbage collector see real pods start, succeed, fail and disappear.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml
from kubernetes import client
from kubernetes.client.rest import ApiException

from tests.cluster.controlplane import kubeconfig

GPU_NODE = "node-gpu"
CPU_NODE = "node-cpu"
_FIELD_LABEL = re.compile(r"metadata\.(labels|annotations)\['(.+)'\]")
_VARIABLE = re.compile(r"\$\$|\$\(([A-Za-z_][A-Za-z0-9_]*)\)")


def now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class RunningPod:
    namespace: str
    name: str
    uid: str
    process: subprocess.Popen[bytes]
    started_at: str
    restart_count: int = 0
    job: str = ""
    log: Path = field(default_factory=lambda: Path(tempfile.mkstemp(suffix=".log")[1]))


class NodeAgent:
    """Runs until :meth:`stop`; one thread polls the API server."""

    def __init__(
        self,
        api: client.ApiClient,
        server: str,
        ca: Path,
        workdir: Path,
        gpu_count: int = 2,
        poll_seconds: float = 0.2,
    ) -> None:
        self.core = client.CoreV1Api(api)
        self.server = server
        self.ca = ca
        self.workdir = workdir
        self.gpu_count = gpu_count
        self.poll_seconds = poll_seconds
        self.running: dict[str, RunningPod] = {}
        self.finished: set[str] = set()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="node-agent", daemon=True)
        self.errors: list[str] = []
        self._faults: list[Callable[[client.V1Pod], bool]] = []
        #: (wall-clock seconds, "start" | "end", pod's Job name) of every container, for
        #: benchmarks: pod timestamps in the API have whole-second resolution.
        self.timeline: list[tuple[float, str, str]] = []

    def fail_once(self, matches: Callable[[client.V1Pod], bool]) -> None:
        """The next pod ``matches`` accepts fails at once (exit code 1), as a container
        does when its node breaks; later pods run normally."""
        self._faults.append(matches)

    # -- nodes -----------------------------------------------------------------------
    def register_nodes(self) -> None:
        for name, gpus in ((CPU_NODE, 0), (GPU_NODE, self.gpu_count)):
            labels = {
                "kubernetes.io/hostname": name,
                "kubernetes.io/os": "linux",
                "kubernetes.io/arch": "amd64",
            }
            if gpus:
                labels["nvidia.com/gpu.present"] = "true"
            self.core.create_node(
                client.V1Node(metadata=client.V1ObjectMeta(name=name, labels=labels))
            )
            resources = {"cpu": "16", "memory": "64Gi", "pods": "110"}
            if gpus:
                resources["nvidia.com/gpu"] = str(gpus)
            timestamp = now()
            conditions = [{"type": "Ready", "status": "True", "reason": "AgentReady"}] + [
                {"type": kind, "status": "False", "reason": "AgentReady"}
                for kind in ("MemoryPressure", "DiskPressure", "PIDPressure")
            ]
            for condition in conditions:
                condition.update(lastHeartbeatTime=timestamp, lastTransitionTime=timestamp)
            self.core.patch_node_status(
                name,
                {
                    "status": {
                        "capacity": resources,
                        "allocatable": resources,
                        "conditions": conditions,
                        "addresses": [
                            {"type": "InternalIP", "address": "127.0.0.1"},
                            {"type": "Hostname", "address": name},
                        ],
                        "nodeInfo": {
                            "architecture": "amd64",
                            "operatingSystem": "linux",
                            "kubeletVersion": "v1.36.3",
                            "containerRuntimeVersion": "local://",
                            "kernelVersion": "",
                            "osImage": "",
                            "kubeProxyVersion": "",
                            "machineID": "",
                            "systemUUID": "",
                            "bootID": "",
                        },
                    }
                },
            )

    # -- lifecycle -------------------------------------------------------------------
    def start(self) -> None:
        self.register_nodes()
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)
        for pod in self.running.values():
            _kill(pod.process)

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self._sync()
            except Exception as exc:  # keep the agent alive; tests read errors
                self.errors.append(repr(exc))
            self._stop.wait(self.poll_seconds)

    def _sync(self) -> None:
        pods = [
            p
            for node in (CPU_NODE, GPU_NODE)
            for p in self.core.list_pod_for_all_namespaces(
                field_selector=f"spec.nodeName={node}"
            ).items
        ]
        seen = set()
        for pod in pods:
            uid = pod.metadata.uid
            seen.add(uid)
            if pod.metadata.deletion_timestamp is not None:
                self._delete(pod)
            elif uid in self.running:
                self._check(pod)
            elif uid not in self.finished and pod.status.phase in (None, "Pending"):
                self._start(pod)
        for uid in list(self.running):
            if uid not in seen:  # deleted behind our back
                _kill(self.running.pop(uid).process)

    # -- pods ------------------------------------------------------------------------
    def _start(self, pod: client.V1Pod) -> None:
        container = pod.spec.containers[0]
        try:
            env = self._environment(pod, container)
        except ApiException as exc:
            self.errors.append(f"env of {pod.metadata.name}: {exc.reason}")
            return
        command = [
            _expand(part, env) for part in (container.command or []) + (container.args or [])
        ]
        if command and command[0] in ("python", "python3"):
            command[0] = sys.executable
        fault = next((f for f in self._faults if f(pod)), None)
        if fault is not None:
            self._faults.remove(fault)
            command = [sys.executable, "-c", "raise SystemExit('injected fault: node lost')"]
        running = RunningPod(
            pod.metadata.namespace,
            pod.metadata.name,
            pod.metadata.uid,
            process=None,
            started_at=now(),
        )  # type: ignore[arg-type]
        running.process = self._spawn(command, env, running.log)
        running.job = (pod.metadata.labels or {}).get("job-name", "")
        self.timeline.append((time.time(), "start", running.job))
        self.running[pod.metadata.uid] = running
        self._report_running(running, container)

    def _spawn(self, command: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
        with open(log, "ab") as out:
            return subprocess.Popen(
                command,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                cwd=self.workdir,
            )

    def _environment(self, pod: client.V1Pod, container: client.V1Container) -> dict[str, str]:
        base = {
            key: os.environ[key]
            for key in ("PATH", "HOME", "LANG", "PYTHONPATH")
            if key in os.environ
        }
        base["PATH"] = f"{Path(sys.executable).parent}:{base.get('PATH', '')}"
        base["KUBECONFIG"] = str(self._credentials(pod))
        env: dict[str, str] = {}
        for source in container.env_from or []:
            if source.config_map_ref is not None:
                data = (
                    self.core.read_namespaced_config_map(
                        source.config_map_ref.name, pod.metadata.namespace
                    ).data
                    or {}
                )
                env.update({(source.prefix or "") + k: v for k, v in data.items()})
        for variable in container.env or []:
            if variable.value is not None:
                env[variable.name] = _expand(variable.value, env)
            elif variable.value_from is not None:
                env[variable.name] = self._resolve(pod, variable.value_from)
        return {**base, **env}

    def _resolve(self, pod: client.V1Pod, source: client.V1EnvVarSource) -> str:
        if source.field_ref is not None:
            path = source.field_ref.field_path
            match = _FIELD_LABEL.fullmatch(path)
            if match:
                mapping = getattr(pod.metadata, match[1]) or {}
                return str(mapping.get(match[2], ""))
            simple = {
                "metadata.name": pod.metadata.name,
                "metadata.namespace": pod.metadata.namespace,
                "metadata.uid": pod.metadata.uid,
                "spec.nodeName": pod.spec.node_name,
                "spec.serviceAccountName": pod.spec.service_account_name,
                "status.hostIP": "127.0.0.1",
                "status.podIP": "127.0.0.1",
            }
            return str(simple[path])
        if source.config_map_key_ref is not None:
            ref = source.config_map_key_ref
            data = self.core.read_namespaced_config_map(ref.name, pod.metadata.namespace).data
            return str((data or {})[ref.key])
        if source.secret_key_ref is not None:
            import base64

            ref = source.secret_key_ref
            data = self.core.read_namespaced_secret(ref.name, pod.metadata.namespace).data
            return base64.b64decode((data or {})[ref.key]).decode()
        raise ValueError(f"unsupported env source in pod {pod.metadata.name}")

    def _credentials(self, pod: client.V1Pod) -> Path:
        """A kubeconfig with a TokenRequest token of the pod's ServiceAccount."""
        account = pod.spec.service_account_name or "default"
        token = self.core.create_namespaced_service_account_token(
            account,
            pod.metadata.namespace,
            client.AuthenticationV1TokenRequest(
                spec=client.V1TokenRequestSpec(
                    audiences=["https://kubernetes.default.svc"], expiration_seconds=3600
                )
            ),
        ).status.token
        path = self.workdir / f"{pod.metadata.uid}.kubeconfig"
        path.write_text(yaml.safe_dump(kubeconfig(self.server, token, account, self.ca)))
        return path

    def _report_running(self, running: RunningPod, container: client.V1Container) -> None:
        timestamp = now()
        conditions = [
            {"type": t, "status": "True", "lastTransitionTime": timestamp}
            for t in ("Initialized", "ContainersReady", "Ready", "PodScheduled")
        ]
        self._patch_status(
            running,
            {
                "phase": "Running",
                "startTime": running.started_at,
                "hostIP": "127.0.0.1",
                "podIP": "127.0.0.1",
                "conditions": conditions,
                "containerStatuses": [
                    {
                        "name": container.name,
                        "image": container.image or "local",
                        "imageID": "",
                        "ready": True,
                        "started": True,
                        "restartCount": running.restart_count,
                        "state": {"running": {"startedAt": running.started_at}},
                    }
                ],
            },
        )

    def _check(self, pod: client.V1Pod) -> None:
        running = self.running[pod.metadata.uid]
        code = running.process.poll()
        if code is None:
            return
        container = pod.spec.containers[0]
        policy = pod.spec.restart_policy or "Always"
        if policy == "Always" or (policy == "OnFailure" and code != 0):
            running.restart_count += 1
            running.process = self._spawn(
                [_expand(p, {}) for p in (container.command or []) + (container.args or [])],
                self._environment(pod, container),
                running.log,
            )
            self._report_running(running, container)
            return
        self.timeline.append((time.time(), "end", running.job))
        self._report_terminated(running, container, code)
        self.running.pop(pod.metadata.uid)
        self.finished.add(pod.metadata.uid)

    def _report_terminated(
        self, running: RunningPod, container: client.V1Container, code: int
    ) -> None:
        lines = running.log.read_text(errors="replace").strip().splitlines()
        message = lines[-1][:1024] if lines and code != 0 else ""
        timestamp = now()
        conditions = [
            {
                "type": t,
                "status": "False",
                "lastTransitionTime": timestamp,
                "reason": "PodCompleted",
            }
            for t in ("ContainersReady", "Ready")
        ]
        self._patch_status(
            running,
            {
                "phase": "Succeeded" if code == 0 else "Failed",
                "conditions": conditions,
                "containerStatuses": [
                    {
                        "name": container.name,
                        "image": container.image or "local",
                        "imageID": "",
                        "ready": False,
                        "started": False,
                        "restartCount": running.restart_count,
                        "state": {
                            "terminated": {
                                "exitCode": code,
                                "reason": "Completed" if code == 0 else "Error",
                                "message": message,
                                "startedAt": running.started_at,
                                "finishedAt": timestamp,
                            }
                        },
                    }
                ],
            },
        )

    def _delete(self, pod: client.V1Pod) -> None:
        uid = pod.metadata.uid
        running = self.running.pop(uid, None)
        if running is not None:
            _kill(running.process, grace=pod.spec.termination_grace_period_seconds or 30)
            if pod.status.phase not in ("Succeeded", "Failed"):
                self._report_terminated(
                    running, pod.spec.containers[0], running.process.returncode or 137
                )
        self.finished.add(uid)
        try:
            self.core.delete_namespaced_pod(
                pod.metadata.name,
                pod.metadata.namespace,
                grace_period_seconds=0,
                body=client.V1DeleteOptions(
                    grace_period_seconds=0, preconditions=client.V1Preconditions(uid=uid)
                ),
            )
        except ApiException as exc:
            if exc.status not in (404, 409):
                raise

    def _patch_status(self, running: RunningPod, status: dict[str, Any]) -> None:
        try:
            self.core.patch_namespaced_pod_status(
                running.name, running.namespace, {"status": status}
            )
        except ApiException as exc:
            if exc.status != 404:
                raise

    def log_of(self, namespace: str, name: str) -> str:
        for pod in self.running.values():
            if (pod.namespace, pod.name) == (namespace, name):
                return pod.log.read_text(errors="replace")
        return ""


def _expand(text: str, env: dict[str, str]) -> str:
    """Kubernetes ``$(VAR)`` expansion; ``$$`` escapes; unknown references stay as written."""

    def replace(match: re.Match[str]) -> str:
        if match[0] == "$$":
            return "$"
        return env.get(match[1], match[0])

    return _VARIABLE.sub(replace, text)


def _kill(process: subprocess.Popen[bytes], grace: float = 5) -> None:
    if process.poll() is not None:
        return
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=min(grace, 5))
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
