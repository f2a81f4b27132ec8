"""One reconciliation of a run: plan from what exists, then create or report.

Idempotent and stateless: everything it needs is read back from the API (the run, its
Job, its result ConfigMap), so a restarted operator simply carries on.
"""

from __future__ import annotations

import json
from collections.abc import MutableMapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from kubernetes import client
from kubernetes.client import ApiException
from pydantic import BaseModel

from stratopt.api import SpecError, parse_model
from stratopt.api.v1alpha1 import FeatureAnalysisSpec, ForecastRunSpec, OptimizationRunSpec
from stratopt.operator import metrics
from stratopt.operator import status as projection
from stratopt.operator.manifests import (
    build_batch_job,
    build_finalize_job,
    build_run_job,
    build_shard_configmap,
    build_worker_rbac,
)
from stratopt.runtime.kubernetes import replay, shard, stored_results
from stratopt.runtime.protocol import batch_job_name, finalize_job_name, job_name, result_name
from stratopt.settings import OperatorSettings

SPECS: dict[str, type[BaseModel]] = {
    "OptimizationRun": OptimizationRunSpec,
    "FeatureAnalysis": FeatureAnalysisSpec,
    "ForecastRun": ForecastRunSpec,
}


def now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class Clients:
    """API clients; their objects are handled as ``Any`` at this I/O boundary."""

    core: Any
    batch: Any
    rbac: Any

    @classmethod
    def default(cls) -> Clients:
        return cls(client.CoreV1Api(), client.BatchV1Api(), client.RbacAuthorizationV1Api())


def _create(create: Any, namespace: str, body: dict[str, Any]) -> None:
    try:
        create(namespace, body)
    except ApiException as exc:
        if exc.status != 409:  # already there: this is how ensure stays idempotent
            raise


def ensure_worker_rbac(clients: Clients, namespace: str, settings: OperatorSettings) -> None:
    account, role, binding = build_worker_rbac(namespace, settings.jobs)
    _create(clients.core.create_namespaced_service_account, namespace, account)
    _create(clients.rbac.create_namespaced_role, namespace, role)
    _create(clients.rbac.create_namespaced_role_binding, namespace, binding)


def _read(read: Any, name: str, namespace: str) -> Any:
    try:
        return read(name, namespace)
    except ApiException as exc:
        if exc.status == 404:
            return None
        raise


def _report_failure(
    clients: Clients,
    namespace: str,
    job: str,
    job_reason: str,
    patch: Any,
    status: dict[str, Any],
    generation: int,
) -> None:
    """Fail the run with the failing pod's one-line reason ("Reason: what to fix")."""
    message = _failure_message(clients, namespace, job)
    failure = message.split(":", 1)[0] if ":" in message else job_reason
    patch.status.update(
        projection.failed(status, generation, failure or "JobFailed", message, now())
    )


def _failure_message(clients: Clients, namespace: str, job: str) -> str:
    pods = clients.core.list_namespaced_pod(namespace, label_selector=f"job-name={job}").items
    for pod in pods:
        for state in pod.status.container_statuses or []:
            terminated = state.state.terminated if state.state else None
            if terminated is not None and terminated.exit_code != 0 and terminated.message:
                return str(terminated.message).strip().splitlines()[-1]
    return "the run's Job failed; see its pods"


class _Recorder:
    """Stands in for kopf's patch: forwards status updates and records phase changes in
    the metrics (``patch.status.update`` works on it as on kopf's)."""

    def __init__(self, kind: str, patch: Any, previous: str | None) -> None:
        self.kind = kind
        self.patch = patch
        self.previous = previous
        self.status = self

    def update(self, fields: dict[str, Any]) -> None:
        self.patch.status.update(fields)
        phase = fields.get("phase")
        if phase is not None:
            metrics.record_phase(self.kind, self.previous, str(phase))
            if phase == "Failed":
                metrics.JOB_FAILURES.labels(self.kind).inc()
            self.previous = str(phase)


def reconcile(
    kind: str,
    body: MutableMapping[str, Any],
    patch: Any,
    clients: Clients,
    settings: OperatorSettings,
) -> None:
    """Move the run one step: create its Job, or report how the Job went."""
    patch = _Recorder(kind, patch, (body.get("status") or {}).get("phase"))
    meta = body["metadata"]
    name, namespace, generation = meta["name"], meta["namespace"], meta["generation"]
    status: dict[str, Any] = dict(body.get("status") or {})
    if (
        status.get("observedGeneration") == generation
        and status.get("phase") in projection.TERMINAL_PHASES
    ):
        return
    try:
        parse_model(SPECS[kind], body.get("spec"), "spec")
    except SpecError as exc:
        patch.status.update(projection.failed(status, generation, exc.reason, str(exc), now()))
        return
    if kind == "OptimizationRun" and execution_mode(dict(body.get("spec") or {})) == "distributed":
        spec = OptimizationRunSpec.model_validate(body["spec"])
        if not _advance_distributed(body, spec, patch, clients, settings, status):
            return
        follow = finalize_job_name(name, generation)
        manifest = build_finalize_job(name, namespace, meta["uid"], generation, settings.jobs)
    else:
        follow = job_name(name, generation)
        manifest = build_run_job(
            kind,
            name,
            namespace,
            meta["uid"],
            generation,
            dict(body.get("spec") or {}),
            settings.jobs,
        )
    _follow(follow, manifest, body, patch, clients, settings, status)


def execution_mode(spec: dict[str, Any]) -> str:
    """'single' or 'distributed'. ``auto`` distributes only when one batch is estimated to
    cost far more than starting pods: evaluations × bars × 10 ns above a minute."""
    execution = spec.get("execution") or {}
    mode = str(execution.get("mode", "auto"))
    if mode != "auto":
        return mode
    settings = (spec.get("algorithm") or {}).get("nsga2") or {}
    batch = int(settings.get("populationSize", 100))
    source = str(((spec.get("backtest") or {}).get("data") or {}).get("source", ""))
    bars = 100_000
    if "bars=" in source:
        bars = int(source.split("bars=")[1].split("&")[0])
    return "distributed" if batch * bars * 1e-8 > 60 else "single"


def _advance_distributed(
    body: MutableMapping[str, Any],
    spec: OptimizationRunSpec,
    patch: Any,
    clients: Clients,
    settings: OperatorSettings,
    status: dict[str, Any],
) -> bool:
    """Run the next batch's Indexed Job; True once every batch has results."""
    meta = body["metadata"]
    name, namespace, generation = meta["name"], meta["namespace"], meta["generation"]
    results = stored_results(clients.core, namespace, name, generation)
    state = replay(spec, results, name, generation)
    progress = {
        "evaluationsCompleted": len(state.driver.evaluations),
        "evaluationsTotal": state.driver.planned_evaluations,
        "batchesCompleted": state.batch,
        "percent": min(
            100,
            round(100 * len(state.driver.evaluations) / max(state.driver.planned_evaluations, 1)),
        ),
        **state.driver.progress(),
    }
    if state.pending is None:
        return True
    shards = shard(state.pending, spec.execution.shard_size)
    _create(
        clients.core.create_namespaced_config_map,
        namespace,
        build_shard_configmap(name, namespace, meta["uid"], generation, state.batch, shards),
    )
    job = _read(
        clients.batch.read_namespaced_job, batch_job_name(name, generation, state.batch), namespace
    )
    done_before = int((status.get("progress") or {}).get("evaluationsCompleted", 0))
    if progress["evaluationsCompleted"] > done_before:
        metrics.EVALUATIONS.labels("OptimizationRun").inc(
            progress["evaluationsCompleted"] - done_before
        )
    if job is None:
        _observe_batch(clients, namespace, name, generation, state.batch - 1)
        ensure_worker_rbac(clients, namespace, settings)
        _remove_stale_jobs(clients, namespace, name, generation)
        _create(
            clients.batch.create_namespaced_job,
            namespace,
            build_batch_job(
                name,
                namespace,
                meta["uid"],
                generation,
                state.batch,
                len(shards),
                spec.execution.parallelism,
                settings.jobs,
            ),
        )
    else:
        outcome, reason = projection.job_outcome(_serialize(job))
        if outcome == "Failed":
            _report_failure(
                clients, namespace, job.metadata.name, reason, patch, status, generation
            )
            return False
    update = projection.running(status, generation, f"batch {state.batch} running", now())
    if status.get("progress") != progress or status.get("phase") != "Running":
        patch.status.update({**update, "progress": progress})
    return False


def _observe_batch(
    clients: Clients, namespace: str, name: str, generation: int, batch: int
) -> None:
    """Record how long the finished batch took, from its Job's start to completion."""
    if batch < 0:
        return
    job = _read(
        clients.batch.read_namespaced_job, batch_job_name(name, generation, batch), namespace
    )
    if job is not None and job.status.start_time and job.status.completion_time:
        seconds = (job.status.completion_time - job.status.start_time).total_seconds()
        metrics.BATCH_SECONDS.observe(seconds)


def _serialize(job: Any) -> dict[str, Any]:
    serialized: dict[str, Any] = client.ApiClient().sanitize_for_serialization(job)  # type: ignore[no-untyped-call]
    return serialized


def _follow(
    job_name_: str,
    manifest: dict[str, Any],
    body: MutableMapping[str, Any],
    patch: Any,
    clients: Clients,
    settings: OperatorSettings,
    status: dict[str, Any],
) -> None:
    """Create ``manifest`` if absent; when its Job ends, report its result or failure."""
    meta = body["metadata"]
    name, namespace, generation = meta["name"], meta["namespace"], meta["generation"]
    job = _read(clients.batch.read_namespaced_job, job_name_, namespace)
    if job is None:
        ensure_worker_rbac(clients, namespace, settings)
        if not job_name_.endswith("-final"):
            _remove_stale_jobs(clients, namespace, name, generation)
        _create(clients.batch.create_namespaced_job, namespace, manifest)
        patch.status.update(projection.running(status, generation, "Job created", now()))
        return
    outcome, reason = projection.job_outcome(_serialize(job))
    if outcome == "Running":
        if status.get("phase") != "Running" or status.get("observedGeneration") != generation:
            patch.status.update(projection.running(status, generation, "Job running", now()))
        return
    if outcome == "Failed":
        _report_failure(clients, namespace, job_name_, reason, patch, status, generation)
        return
    result = _read(
        clients.core.read_namespaced_config_map, result_name(name, generation), namespace
    )
    if result is None or "status.json" not in (result.data or {}):
        patch.status.update(
            projection.failed(
                status, generation, "ResultMissing", "the Job succeeded but wrote no result", now()
            )
        )
        return
    document = json.loads(result.data["status.json"])
    patch.status.update(projection.succeeded(status, generation, document, now()))


def _remove_stale_jobs(clients: Clients, namespace: str, name: str, generation: int) -> None:
    """Jobs of earlier generations go when the spec changes (their pods with them)."""
    jobs = clients.batch.list_namespaced_job(namespace, label_selector=f"stratopt.io/run={name}")
    for job in jobs.items:
        if job.metadata.labels.get("stratopt.io/generation") != str(generation):
            clients.batch.delete_namespaced_job(
                job.metadata.name, namespace, propagation_policy="Background"
            )
