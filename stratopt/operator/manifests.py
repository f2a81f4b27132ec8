"""Pure builders of the objects the operator creates: the run's Job and the worker RBAC.

They take models and explicit settings, never the clock or global configuration, and
return dicts ready for the API.
"""

from __future__ import annotations

from typing import Any

from stratopt.api._resource import GROUP, VERSION
from stratopt.api.kinds import PLURALS
from stratopt.runtime.protocol import (
    BAD_INPUT_EXIT_CODE,
    BATCH_LABEL,
    STOPPED_EXIT_CODE,
    batch_job_name,
    finalize_job_name,
    folds_job_name,
    job_name,
    owner_reference,
    run_labels,
)
from stratopt.runtime.stored import RERUN_LABEL, SHARDS_PER_INPUT_LABEL, shard_inputs
from stratopt.settings import JobSettings


def build_run_job(
    kind: str,
    name: str,
    namespace: str,
    uid: str,
    revision: str,
    spec: dict[str, Any],
    settings: JobSettings,
    *,
    command: list[str] | None = None,
    job: str | None = None,
    completions: int | None = None,
    parallelism: int | None = None,
    extra_labels: dict[str, str] | None = None,
    suspend: bool = False,
) -> dict[str, Any]:
    """The Job that runs a whole resource in one pod and writes its result ConfigMap;
    with ``completions``, an Indexed Job whose pods each evaluate one shard."""
    labels = {**run_labels(kind, name, revision), **(extra_labels or {})}
    resources: dict[str, Any] = {
        "requests": {"cpu": settings.cpu_request, "memory": settings.memory_request}
    }
    pod_spec: dict[str, Any] = {}
    image = settings.image
    gpus = int(spec.get("resources", {}).get("gpu", 0)) if kind == "ForecastRun" else 0
    if kind == "ForecastRun":
        memory = spec.get("resources", {}).get("memory")
        if memory:
            resources["requests"]["memory"] = memory
    if gpus:
        image = settings.gpu_image
        resources["limits"] = {"nvidia.com/gpu": str(gpus)}
        pod_spec["nodeSelector"] = spec.get("resources", {}).get("nodeSelector") or {
            "nvidia.com/gpu.present": "true"
        }
        pod_spec["tolerations"] = [
            {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}
        ]
    container = {
        "name": "worker",
        "image": image,
        "imagePullPolicy": settings.image_pull_policy,
        "command": command
        or [
            "python",
            "-m",
            "stratopt.jobs",
            "run",
            "--kind",
            kind,
            "--name",
            name,
            "--namespace",
            namespace,
            "--revision",
            revision,
        ],
        "resources": resources,
        # The root filesystem is read-only: numba caches its kernels in the pod's /tmp.
        "env": [
            {"name": "HOME", "value": "/tmp"},
            {"name": "NUMBA_CACHE_DIR", "value": "/tmp/numba-cache"},
            # What a spec may name as its data: a run's author is not the cluster's.
            *settings.data_policy_environment(),
        ],
        "volumeMounts": [{"name": "tmp", "mountPath": "/tmp"}],
        "terminationMessagePolicy": "FallbackToLogsOnError",
        "securityContext": {
            "runAsNonRoot": True,
            "runAsUser": 10001,
            "readOnlyRootFilesystem": True,
            "allowPrivilegeEscalation": False,
            "capabilities": {"drop": ["ALL"]},
            "seccompProfile": {"type": "RuntimeDefault"},
        },
    }
    indexed: dict[str, Any] = {"backoffLimit": settings.backoff_limit}
    if completions is not None:
        # backoffLimitPerIndex retries a failed shard alone; the others keep their results.
        indexed = {
            "completionMode": "Indexed",
            "completions": completions,
            "parallelism": min(parallelism or completions, completions),
            "backoffLimitPerIndex": settings.backoff_limit,
        }
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {
            "name": job or job_name(name, revision),
            "namespace": namespace,
            "labels": labels,
            "annotations": {"stratopt.io/run-name": name},
            "ownerReferences": [owner_reference(kind, name, uid)],
        },
        "spec": {
            **indexed,
            "suspend": suspend,
            "ttlSecondsAfterFinished": settings.ttl_seconds_after_finished,
            "activeDeadlineSeconds": settings.active_deadline_seconds,
            "podFailurePolicy": {
                "rules": [
                    {
                        "action": "FailJob",
                        "onExitCodes": {
                            "containerName": "worker",
                            "operator": "In",
                            "values": [BAD_INPUT_EXIT_CODE],
                        },
                    },
                    # A worker stopped on purpose has not failed its shard.
                    {
                        "action": "Ignore",
                        "onExitCodes": {
                            "containerName": "worker",
                            "operator": "In",
                            "values": [STOPPED_EXIT_CODE],
                        },
                    },
                    {"action": "Ignore", "onPodConditions": [{"type": "DisruptionTarget"}]},
                ]
            },
            "template": {
                "metadata": {"labels": labels},
                "spec": {
                    **pod_spec,
                    "restartPolicy": "Never",
                    # The sandbox's pause process is PID 1, so SIGTERM (suspend, delete)
                    # ends a worker at any moment, even before Python has set a handler.
                    "shareProcessNamespace": True,
                    "serviceAccountName": settings.service_account,
                    "automountServiceAccountToken": True,
                    "containers": [container],
                    "volumes": [{"name": "tmp", "emptyDir": {}}],
                },
            },
        },
    }


def queued_job(manifest: dict[str, Any], labels: dict[str, str]) -> dict[str, Any]:
    """``manifest``'s Job for Kueue when ``labels`` (a run's queue and priority) name a
    queue: labelled so, and created suspended, for Kueue to start once it admits it.
    The pods do not carry them: Kueue manages the Job, not its pods."""
    if not labels:
        return manifest
    meta = {**manifest["metadata"], "labels": {**manifest["metadata"]["labels"], **labels}}
    return {**manifest, "metadata": meta, "spec": {**manifest["spec"], "suspend": True}}


def build_worker_rbac(namespace: str, settings: JobSettings) -> list[dict[str, Any]]:
    """ServiceAccount, Role and RoleBinding of worker pods: read runs, write results."""
    name = settings.service_account
    rules = [
        {"apiGroups": [GROUP], "resources": sorted(PLURALS.values()), "verbs": ["get"]},
        {
            "apiGroups": [""],
            "resources": ["configmaps"],
            # watch: a shard's pod waits for its input (see build_batch_job).
            "verbs": ["get", "list", "watch", "create", "update"],
        },
    ]
    return [
        {
            "apiVersion": "v1",
            "kind": "ServiceAccount",
            "metadata": {"name": name, "namespace": namespace},
        },
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "Role",
            "metadata": {"name": name, "namespace": namespace},
            "rules": rules,
        },
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "RoleBinding",
            "metadata": {"name": name, "namespace": namespace},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": name},
            "subjects": [{"kind": "ServiceAccount", "name": name, "namespace": namespace}],
        },
    ]


#: Addresses no data source may have (the data policy refuses them too): worker pods
#: reach these only where the policy names them (the API server).
NON_PUBLIC = (
    "10.0.0.0/8",
    "172.16.0.0/12",
    "192.168.0.0/16",
    "169.254.0.0/16",
    "127.0.0.0/8",
    "100.64.0.0/10",
)
NON_PUBLIC_V6 = ("fc00::/7", "fe80::/10", "::1/128")


def build_worker_network_policy(namespace: str, settings: JobSettings) -> dict[str, Any]:
    """The NetworkPolicy of worker pods: no ingress; egress to DNS, to the API server,
    and to public addresses on the ports of network data sources."""
    api_server: dict[str, Any] = {"ports": [{"protocol": "TCP", "port": settings.api_server_port}]}
    cidrs = [c.strip() for c in settings.api_server_cidrs.split(",") if c.strip()]
    if cidrs:
        api_server["to"] = [{"ipBlock": {"cidr": cidr}} for cidr in cidrs]
    data_ports = [int(p) for p in settings.data_ports.split(",") if p.strip()]
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {
            "name": settings.service_account,
            "namespace": namespace,
            "labels": {"app.kubernetes.io/managed-by": "stratopt"},
        },
        "spec": {
            # Every pod of a run's Jobs carries it (run_labels).
            "podSelector": {"matchLabels": {"app.kubernetes.io/managed-by": "stratopt"}},
            "policyTypes": ["Ingress", "Egress"],
            "ingress": [],
            "egress": [
                {"ports": [{"protocol": "UDP", "port": 53}, {"protocol": "TCP", "port": 53}]},
                api_server,
                {
                    "to": [
                        {"ipBlock": {"cidr": "0.0.0.0/0", "except": list(NON_PUBLIC)}},
                        {
                            "ipBlock": {
                                "cidr": "::/0",
                                "except": ["fc00::/7", "fe80::/10", "::1/128"],
                            }
                        },
                    ],
                    "ports": [{"protocol": "TCP", "port": port} for port in data_ports],
                },
            ],
        },
    }


def _worker_job(
    step: str,
    job: str,
    name: str,
    namespace: str,
    uid: str,
    revision: str,
    settings: JobSettings,
    *,
    arguments: tuple[str, ...] = (),
    completions: int | None = None,
    parallelism: int | None = None,
    extra_labels: dict[str, str] | None = None,
    suspend: bool = False,
) -> dict[str, Any]:
    """A Job of a distributed search whose pods run ``python -m stratopt.jobs STEP``."""
    command = ["python", "-m", "stratopt.jobs", step, "--name", name, "--namespace", namespace]
    return build_run_job(
        "OptimizationRun",
        name,
        namespace,
        uid,
        revision,
        {},
        settings,
        command=[*command, "--revision", revision, *arguments],
        job=job,
        completions=completions,
        parallelism=parallelism,
        extra_labels=extra_labels,
        suspend=suspend,
    )


def build_batch_job(
    name: str,
    namespace: str,
    uid: str,
    revision: str,
    batch: int,
    shards: int,
    parallelism: int,
    settings: JobSettings,
    *,
    per_input: int,
    suspend: bool = False,
    rerun: int = 0,
) -> dict[str, Any]:
    """The Indexed Job of one batch: pod *i* evaluates shard *i* (``JOB_COMPLETION_INDEX``),
    found in input ConfigMap ``i // per_input``. Its pods wait for their inputs, so the
    Job of the next batch can start while this one runs. ``rerun`` counts the times the
    batch ran again because stored results were lost."""
    labels = {BATCH_LABEL: str(batch), SHARDS_PER_INPUT_LABEL: str(per_input)}
    if rerun:
        labels[RERUN_LABEL] = str(rerun)
    return _worker_job(
        "evaluate",
        batch_job_name(name, revision, batch),
        name,
        namespace,
        uid,
        revision,
        settings,
        arguments=("--batch", str(batch), "--shards-per-input", str(per_input)),
        completions=shards,
        parallelism=parallelism,
        extra_labels=labels,
        suspend=suspend,
    )


def build_folds_job(
    name: str,
    namespace: str,
    uid: str,
    revision: str,
    folds: int,
    parallelism: int,
    settings: JobSettings,
    *,
    suspend: bool = False,
) -> dict[str, Any]:
    """The Indexed Job of a walk-forward: pod *i* optimizes and tests fold *i*."""
    return _worker_job(
        "fold",
        folds_job_name(name, revision),
        name,
        namespace,
        uid,
        revision,
        settings,
        completions=folds,
        parallelism=parallelism,
        suspend=suspend,
    )


def build_finalize_job(
    name: str,
    namespace: str,
    uid: str,
    revision: str,
    settings: JobSettings,
    *,
    suspend: bool = False,
) -> dict[str, Any]:
    """The Job that turns a distributed search's stored results into its status."""
    return _worker_job(
        "finalize",
        finalize_job_name(name, revision),
        name,
        namespace,
        uid,
        revision,
        settings,
        suspend=suspend,
    )


def build_shard_configmaps(
    name: str,
    namespace: str,
    uid: str,
    revision: str,
    batch: int,
    shards: list[list[dict[str, float]]],
    per_input: int | None = None,
) -> list[dict[str, Any]]:
    """A batch's shard inputs (:func:`~stratopt.runtime.stored.shard_inputs`) as
    ConfigMaps owned by the run."""
    return [
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {
                "name": config_map,
                "namespace": namespace,
                "labels": {
                    **run_labels("OptimizationRun", name, revision),
                    BATCH_LABEL: str(batch),
                },
                "ownerReferences": [owner_reference("OptimizationRun", name, uid)],
            },
            "data": data,
        }
        for config_map, data in shard_inputs(name, revision, batch, shards, per_input).items()
    ]


def build_event(
    kind: str,
    name: str,
    namespace: str,
    uid: str,
    reason: str,
    message: str,
    now: str,
    *,
    warning: bool = False,
) -> dict[str, Any]:
    """A milestone of a run, as a core/v1 Event that ``kubectl describe`` shows."""
    return {
        "apiVersion": "v1",
        "kind": "Event",
        # generateName adds five characters to at most 253.
        "metadata": {"generateName": f"{name[:240]}.", "namespace": namespace},
        "involvedObject": {
            "apiVersion": f"{GROUP}/{VERSION}",
            "kind": kind,
            "name": name,
            "namespace": namespace,
            "uid": uid,
        },
        "type": "Warning" if warning else "Normal",
        "reason": reason,
        "message": message[:1024],
        "firstTimestamp": now,
        "lastTimestamp": now,
        "count": 1,
        "source": {"component": "stratopt-operator"},
        "reportingComponent": "stratopt.io/operator",
        "reportingInstance": "stratopt-operator",
    }
