"""Pure builders of the objects the operator creates: the run's Job and the worker RBAC.

They take models and explicit settings, never the clock or global configuration, and
return dicts ready for the API.
"""

from __future__ import annotations

from typing import Any

from stratopt.api._resource import GROUP
from stratopt.runtime.protocol import (
    BAD_INPUT_EXIT_CODE,
    PLURALS,
    job_name,
    owner_reference,
    run_labels,
)
from stratopt.settings import JobSettings


def build_run_job(
    kind: str,
    name: str,
    namespace: str,
    uid: str,
    generation: int,
    spec: dict[str, Any],
    settings: JobSettings,
) -> dict[str, Any]:
    """The Job that runs a whole resource in one pod and writes its result ConfigMap."""
    labels = run_labels(kind, name, generation)
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
        "command": [
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
            "--generation",
            str(generation),
        ],
        "resources": resources,
        "terminationMessagePolicy": "FallbackToLogsOnError",
        "securityContext": {
            "runAsNonRoot": True,
            "runAsUser": 10001,
            "readOnlyRootFilesystem": True,
            "allowPrivilegeEscalation": False,
            "capabilities": {"drop": ["ALL"]},
        },
    }
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {
            "name": job_name(name, generation),
            "namespace": namespace,
            "labels": labels,
            "ownerReferences": [owner_reference(kind, name, uid)],
        },
        "spec": {
            "backoffLimit": settings.backoff_limit,
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
                    {"action": "Ignore", "onPodConditions": [{"type": "DisruptionTarget"}]},
                ]
            },
            "template": {
                "metadata": {"labels": labels},
                "spec": {
                    **pod_spec,
                    "restartPolicy": "Never",
                    "serviceAccountName": settings.service_account,
                    "automountServiceAccountToken": True,
                    "containers": [container],
                },
            },
        },
    }


def build_worker_rbac(namespace: str, settings: JobSettings) -> list[dict[str, Any]]:
    """ServiceAccount, Role and RoleBinding of worker pods: read runs, write results."""
    name = settings.service_account
    rules = [
        {"apiGroups": [GROUP], "resources": sorted(PLURALS.values()), "verbs": ["get"]},
        {"apiGroups": [""], "resources": ["configmaps"], "verbs": ["get", "create", "update"]},
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
