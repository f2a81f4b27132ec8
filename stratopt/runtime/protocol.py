"""The task/result protocol between the operator and worker pods: names, labels, owner
references and exit codes both sides must agree on."""

from __future__ import annotations

import os
from typing import Any

from stratopt.api._resource import GROUP, VERSION

#: Exit code of a worker that found bad input: the Job fails at once, without retries.
BAD_INPUT_EXIT_CODE = 2
PLURALS = {
    "OptimizationRun": "optimizationruns",
    "FeatureAnalysis": "featureanalyses",
    "ForecastRun": "forecastruns",
}


def job_name(name: str, generation: int) -> str:
    """Deterministic, so a restarted operator finds the Job it already created."""
    return f"{name}-g{generation}"[:63]


def result_name(name: str, generation: int) -> str:
    """The ConfigMap a run's worker writes its status into."""
    return f"{name}-g{generation}-result"[:253]


def batch_job_name(name: str, generation: int, batch: int) -> str:
    """The Indexed Job evaluating batch ``batch`` of a distributed search."""
    return f"{name}-g{generation}-b{batch}"[:63]


def shard_input_name(name: str, generation: int, batch: int) -> str:
    """The ConfigMap holding a batch's shards (key ``shard-<index>``)."""
    return f"{name}-g{generation}-b{batch}-input"[:253]


def shard_result_name(name: str, generation: int, batch: int, shard: int) -> str:
    """The ConfigMap one shard's pod writes its metrics into."""
    return f"{name}-g{generation}-b{batch}-s{shard}"[:253]


def finalize_job_name(name: str, generation: int) -> str:
    """The Job that summarizes a distributed search (front, diagnostics, walk-forward)."""
    return f"{name}-g{generation}-final"[:63]


def owner_reference(kind: str, name: str, uid: str) -> dict[str, Any]:
    """Makes the run own an object, so deleting the run deletes it."""
    return {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": kind,
        "name": name,
        "uid": uid,
        "controller": True,
        "blockOwnerDeletion": True,
    }


def run_labels(kind: str, name: str, generation: int) -> dict[str, str]:
    return {
        "app.kubernetes.io/managed-by": "stratopt",
        "stratopt.io/kind": kind.lower(),
        "stratopt.io/run": name,
        "stratopt.io/generation": str(generation),
    }


def load_client_configuration() -> None:
    """Configure the kubernetes client: in-cluster, else the kubeconfig in ``KUBECONFIG``
    (read now, not when the library was imported)."""
    from kubernetes import config

    try:
        config.load_incluster_config()  # type: ignore[no-untyped-call]
    except config.ConfigException:
        config.load_kube_config(config_file=os.environ.get("KUBECONFIG"))  # type: ignore[no-untyped-call]
