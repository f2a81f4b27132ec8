"""One reconciliation of a run: plan from what exists, then create or report.

Idempotent: everything it needs is read back from the API (the run, its Job, its result
ConfigMap), so a restarted operator simply carries on. The one thing kept in memory, the
distributed searches' replays, only saves work and is rebuilt from the stored results.
"""

from __future__ import annotations

import json
import logging
from collections.abc import MutableMapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from kubernetes import client
from kubernetes.client import ApiException

from stratopt.api import SpecError, parse_model
from stratopt.api._parse import relative_paths
from stratopt.api._resource import GROUP, VERSION
from stratopt.api.v1alpha1 import SPECS, OptimizationRunSpec
from stratopt.operator import metrics
from stratopt.operator import status as projection
from stratopt.operator.manifests import (
    build_batch_job,
    build_event,
    build_finalize_job,
    build_folds_job,
    build_run_job,
    build_shard_configmaps,
    build_worker_rbac,
    shards_per_input,
)
from stratopt.operator.queue import RunKey
from stratopt.optimize import ReplayMismatchError
from stratopt.optimize.results import search_progress
from stratopt.runtime.kubernetes import (
    Replay,
    StoredResults,
    execution_mode,
    replay,
    shard,
    stored_results,
)
from stratopt.runtime.protocol import (
    PLURALS,
    WorkerFailure,
    batch_job_name,
    finalize_job_name,
    fold_result_name,
    folds_job_name,
    job_name,
    plan_name,
    progress_name,
    read_failure,
    result_name,
    revision,
    run_selector,
)
from stratopt.settings import OperatorSettings

logger = logging.getLogger("stratopt.operator")


def now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class StatusPatch:
    """The status fields one reconciliation writes (``patch.status.update`` as on kopf's
    patch), sent in one merge patch of the status subresource."""

    status: dict[str, Any] = field(default_factory=dict)


@dataclass
class Clients:
    """API clients; their objects are handled as ``Any`` at this I/O boundary."""

    core: Any
    batch: Any
    rbac: Any
    custom: Any

    @classmethod
    def default(cls) -> Clients:
        return cls(
            client.CoreV1Api(),
            client.BatchV1Api(),
            client.RbacAuthorizationV1Api(),
            client.CustomObjectsApi(),
        )


def _create(create: Any, namespace: str, body: dict[str, Any]) -> None:
    try:
        create(namespace, body)
    except ApiException as exc:
        if exc.status != 409:  # already there: this is how ensure stays idempotent
            raise


def ensure_worker_rbac(clients: Clients, namespace: str, settings: OperatorSettings) -> None:
    """The workers' ServiceAccount, Role and RoleBinding: created the first time a run's
    Job is, then only read, and mended when they differ from what this operator grants
    (after an upgrade). They stay in the namespace for its next runs."""
    account, role, binding = build_worker_rbac(namespace, settings.jobs)
    name = settings.jobs.service_account
    if _read(clients.core.read_namespaced_service_account, name, namespace) is None:
        _create(clients.core.create_namespaced_service_account, namespace, account)
    found = _read(clients.rbac.read_namespaced_role, name, namespace)
    if found is None:
        _create(clients.rbac.create_namespaced_role, namespace, role)
    elif _serialize(found).get("rules") != role["rules"]:
        clients.rbac.patch_namespaced_role(name, namespace, {"rules": role["rules"]})
    found = _read(clients.rbac.read_namespaced_role_binding, name, namespace)
    if found is None:
        _create(clients.rbac.create_namespaced_role_binding, namespace, binding)
    elif _serialize(found).get("subjects") != binding["subjects"]:
        clients.rbac.patch_namespaced_role_binding(
            name, namespace, {"subjects": binding["subjects"]}
        )


def _read(read: Any, name: str, namespace: str) -> Any:
    try:
        return read(name, namespace)
    except ApiException as exc:
        if exc.status == 404:
            return None
        raise


@dataclass(frozen=True)
class Run:
    """The resource being reconciled: who it is and what its spec asks for now."""

    kind: str
    name: str
    namespace: str
    uid: str
    generation: int
    revision: str
    suspended: bool

    @property
    def key(self) -> RunKey:
        return RunKey(self.kind, self.namespace, self.name)

    def reference(self) -> dict[str, str]:
        """The run as kopf's JSON logs name objects."""
        return {**self.key.reference(), "uid": self.uid}

    @classmethod
    def of(cls, kind: str, body: MutableMapping[str, Any]) -> Run:
        meta, spec = body["metadata"], dict(body.get("spec") or {})
        return cls(
            kind,
            meta["name"],
            meta["namespace"],
            meta["uid"],
            meta["generation"],
            revision(spec),
            bool(spec.get("suspend")),
        )


class _Recorder:
    """Stands in for kopf's patch: forwards status updates (``patch.status.update`` works
    on it as on kopf's), stamps the revision, and turns phase changes into metrics and
    Events."""

    def __init__(self, run: Run, patch: Any, previous: str | None, clients: Clients) -> None:
        self.run = run
        self.patch = patch
        self.previous = previous
        self.clients = clients
        self.status = self

    def update(self, fields: dict[str, Any]) -> None:
        self.patch.status.update({**fields, "revision": self.run.revision})
        phase = fields.get("phase")
        if phase is None:
            return
        metrics.record_phase(self.run.key, self.previous, str(phase))
        if phase != self.previous:
            self._announce_phase(str(phase), fields)
            if phase == "Failed":
                metrics.JOB_FAILURES.labels(self.run.kind).inc()
        self.previous = str(phase)

    def _announce_phase(self, phase: str, fields: dict[str, Any]) -> None:
        if phase == "Running":
            reason = "Resumed" if self.previous == "Suspended" else "Started"
            self.announce(reason, f"{self.run.kind} {self.run.name} is running")
        elif phase == "Suspended":
            self.announce("Suspended", "the run's Job is suspended (spec.suspend is true)")
        elif phase == "Succeeded":
            self.announce("Succeeded", _summary(fields))
            for warning in fields.get("warnings") or []:
                self.announce("Degenerate", str(warning), warning=True)
        elif phase == "Failed":
            failed = next(c for c in fields["conditions"] if c["type"] == "Failed")
            self.announce(failed["reason"], failed["message"], warning=True)

    def announce(self, reason: str, message: str, *, warning: bool = False) -> None:
        """Log a milestone and post it as an Event; a failure to post never stops the
        reconciliation."""
        run = self.run
        logger.log(
            logging.WARNING if warning else logging.INFO,
            "%s: %s",
            reason,
            message,
            extra={"k8s_ref": run.reference()},
        )
        event = build_event(
            run.kind, run.name, run.namespace, run.uid, reason, message, now(), warning=warning
        )
        try:
            self.clients.core.create_namespaced_event(run.namespace, event)
        except ApiException as exc:
            metrics.HANDLER_ERRORS.labels(run.kind).inc()
            logger.warning(
                "cannot post Event %s of %s: %s %s", reason, run.name, exc.status, exc.reason
            )


def _summary(fields: dict[str, Any]) -> str:
    best = fields.get("best")
    if isinstance(best, dict) and isinstance(best.get("objectives"), dict):
        values = ", ".join(f"{k}={v:.4g}" for k, v in best["objectives"].items())
        return f"finished; best {values}"
    return "finished"


def _report_failure(
    clients: Clients, run: Run, job: str, job_reason: str, patch: Any, status: dict[str, Any]
) -> None:
    """Fail the run with the reason and message its failed worker reported."""
    failure = _failure(clients, run.namespace, job, job_reason)
    patch.status.update(
        projection.failed(status, run.generation, failure.reason, failure.message, now())
    )


def _failure(clients: Clients, namespace: str, job: str, job_reason: str) -> WorkerFailure:
    pods = clients.core.list_namespaced_pod(namespace, label_selector=f"job-name={job}").items
    for pod in pods:
        for state in pod.status.container_statuses or []:
            terminated = state.state.terminated if state.state else None
            if terminated is not None and terminated.exit_code != 0 and terminated.message:
                return read_failure(str(terminated.message), job_reason)
    return WorkerFailure(
        job_reason or "JobFailed", f"Job {job} failed ({job_reason}); see its pods"
    )


def reconcile(
    kind: str,
    body: MutableMapping[str, Any],
    patch: Any,
    clients: Clients,
    settings: OperatorSettings,
) -> None:
    """Move the run one step: create its Job, or report how the Job went."""
    run = Run.of(kind, body)
    status: dict[str, Any] = dict(body.get("status") or {})
    recorder = _Recorder(run, patch, status.get("phase"), clients)
    if status.get("phase") in projection.TERMINAL_PHASES:
        if status.get("observedGeneration") == run.generation:
            return
        if status.get("revision") == run.revision:  # only suspend changed: nothing to redo
            recorder.update({"observedGeneration": run.generation})
            return
    previous = status.get("revision")
    if previous is not None and previous != run.revision:
        recorder.announce(
            "Restarted",
            f"the spec changed (revision {previous} to {run.revision}): the run starts over, "
            "and the Jobs of the earlier revision are removed",
        )
        patch.status.update({"revision": run.revision})  # announced once
    try:
        parsed = parse_model(SPECS[kind], body.get("spec"), "spec")
    except SpecError as exc:
        recorder.update(projection.failed(status, run.generation, exc.reason, str(exc), now()))
        return
    relative = relative_paths({"kind": kind, "spec": body.get("spec")})
    if relative:
        field, value = relative[0]
        message = (
            f"{field}: {value!r} is a relative path, which only `stratopt run` resolves "
            "(against the spec file's folder); on a cluster give an absolute path in the "
            "worker image or a mounted volume, or a URL"
        )
        recorder.update(projection.failed(status, run.generation, "InvalidSpec", message, now()))
        return
    spec = dict(body.get("spec") or {})
    if isinstance(parsed, OptimizationRunSpec) and execution_mode(parsed) == "distributed":
        if not _advance_distributed(run, parsed, recorder, clients, settings, status):
            return
        name = finalize_job_name(run.name, run.revision)
        manifest = build_finalize_job(
            run.name, run.namespace, run.uid, run.revision, settings.jobs, suspend=run.suspended
        )
        job = _read(clients.batch.read_namespaced_job, name, run.namespace)
    else:
        name = job_name(run.name, run.revision)
        job = _read(clients.batch.read_namespaced_job, name, run.namespace)
        waiting = _waiting_for_analysis(clients, run, spec) if job is None else None
        if waiting is not None:
            update = projection.waiting(
                status, run.generation, "WaitingForFeatureAnalysis", waiting, now()
            )
            _update_if_changed(recorder, status, update)
            return
        manifest = build_run_job(
            kind,
            run.name,
            run.namespace,
            run.uid,
            run.revision,
            spec,
            settings.jobs,
            suspend=run.suspended,
        )
    _follow(run, name, job, manifest, recorder, clients, settings, status)


def _waiting_for_analysis(clients: Clients, run: Run, spec: dict[str, Any]) -> str | None:
    """Why a ForecastRun's Job cannot be created yet: its fromFeatureAnalysis has not
    succeeded."""
    name = spec.get("fromFeatureAnalysis")
    if not name:
        return None
    try:
        analysis = clients.custom.get_namespaced_custom_object(
            GROUP, VERSION, run.namespace, PLURALS["FeatureAnalysis"], name
        )
    except ApiException as exc:
        if exc.status != 404:
            raise
        return f"waiting for FeatureAnalysis {name!r}, which does not exist yet"
    phase = (analysis.get("status") or {}).get("phase", "Pending")
    if phase == "Succeeded":
        return None
    return f"waiting for FeatureAnalysis {name!r} to succeed (it is {phase})"


#: Replays kept between reconciles, so each one tells the driver only the batches that
#: finished since the last; a restarted operator rebuilds them from the stored results.
REPLAYS_KEPT = 256
_replays: dict[tuple[str, str], Replay] = {}


def _advance_distributed(
    run: Run,
    spec: OptimizationRunSpec,
    patch: _Recorder,
    clients: Clients,
    settings: OperatorSettings,
    status: dict[str, Any],
) -> bool:
    """Run the next batch's Indexed Job; True once every batch has results."""
    results = stored_results(clients.core, run.namespace, run.name, run.revision)
    key = (run.uid, run.revision)
    try:
        state = replay(spec, results, run.name, run.revision, _replays.pop(key, None))
    except ReplayMismatchError as exc:
        patch.update(projection.failed(status, run.generation, exc.reason, str(exc), now()))
        return False
    _replays[key] = state
    while len(_replays) > REPLAYS_KEPT:
        _replays.pop(next(iter(_replays)))
    evaluated, planned = len(state.driver.evaluations), state.driver.planned_evaluations
    generation = state.driver.progress().get("generation")
    progress = search_progress(evaluated, planned, state.batch, generation=generation).model_dump(
        mode="json", by_alias=True, exclude_none=True
    )
    done_before = int((status.get("progress") or {}).get("evaluationsCompleted", 0))
    if evaluated > done_before:
        metrics.EVALUATIONS.labels(run.kind).inc(evaluated - done_before)
    if state.pending is None:
        if spec.walk_forward is None:
            return True
        return _advance_folds(run, spec, results, progress, patch, clients, settings, status)
    shards = shard(state.pending, spec.execution.shard_size)
    name = batch_job_name(run.name, run.revision, state.batch)
    job = _read(clients.batch.read_namespaced_job, name, run.namespace)
    if job is None:
        _observe_batch(clients, run, state.batch - 1)
        ensure_worker_rbac(clients, run.namespace, settings)
        _remove_stale_jobs(clients, run)
        inputs = build_shard_configmaps(
            run.name, run.namespace, run.uid, run.revision, state.batch, shards
        )
        for configmap in inputs:
            _create(clients.core.create_namespaced_config_map, run.namespace, configmap)
        manifest = build_batch_job(
            run.name,
            run.namespace,
            run.uid,
            run.revision,
            state.batch,
            len(shards),
            spec.execution.parallelism,
            settings.jobs,
            per_input=shards_per_input(shards),
            suspend=run.suspended,
        )
        _create(clients.batch.create_namespaced_job, run.namespace, manifest)
        patch.announce(
            "BatchStarted",
            f"Job {name}: batch {state.batch}, {len(state.pending)} evaluations "
            f"in {len(shards)} shards ({evaluated}/{planned} done)",
        )
    elif _check_job(clients, run, job, patch, status) == "Failed":
        return False
    update = _in_progress(clients, run, name, job, status, f"batch {state.batch} running")
    _update_if_changed(patch, status, {**update, "progress": progress})
    return False


def _in_progress(
    clients: Clients, run: Run, job: str, found: Any, status: dict[str, Any], message: str
) -> dict[str, Any]:
    """The status of an unfinished run: suspended, stalled (its pods cannot be created or
    fit no node), or running. ``found`` is the Job as read (None when just created)."""
    if run.suspended:
        return projection.suspended(status, run.generation, now())
    if found is not None and not (found.status.active or 0):
        events = clients.core.list_namespaced_event(
            run.namespace, field_selector=f"involvedObject.kind=Job,involvedObject.name={job}"
        ).items
        refused = projection.pod_creation_failure([_serialize(event) for event in events])
        if refused is not None:
            return projection.stalled(status, run.generation, "FailedCreate", refused, now())
    pods = clients.core.list_namespaced_pod(
        run.namespace, label_selector=f"job-name={job}", field_selector="status.phase=Pending"
    ).items
    unschedulable = projection.unschedulable_message([_serialize(pod) for pod in pods])
    if unschedulable is not None:
        return projection.stalled(status, run.generation, "Unschedulable", unschedulable, now())
    return projection.running(status, run.generation, message, now())


def _reported_progress(clients: Clients, run: Run) -> dict[str, Any] | None:
    """The progress a single-mode search's pod last reported, if any."""
    if run.kind != "OptimizationRun":
        return None
    found = _read(
        clients.core.read_namespaced_config_map,
        progress_name(run.name, run.revision),
        run.namespace,
    )
    if found is None or "progress.json" not in (found.data or {}):
        return None
    progress: dict[str, Any] = json.loads(found.data["progress.json"])
    return progress


def _advance_folds(
    run: Run,
    spec: OptimizationRunSpec,
    results: StoredResults,
    progress: dict[str, Any],
    patch: _Recorder,
    clients: Clients,
    settings: OperatorSettings,
    status: dict[str, Any],
) -> bool:
    """Run the walk-forward folds as one Indexed Job; True once every fold has a result."""
    plan = results.get(plan_name(run.name, run.revision))
    if plan is None or "folds" not in plan:
        message = "the walk-forward plan its first pod writes is missing"
        patch.status.update(
            projection.failed(status, run.generation, "ResultMissing", message, now())
        )
        return False
    folds = int(plan["folds"])
    done = sum(fold_result_name(run.name, run.revision, i) in results for i in range(folds))
    if done == folds:
        return True
    name = folds_job_name(run.name, run.revision)
    job = _read(clients.batch.read_namespaced_job, name, run.namespace)
    if job is None:
        manifest = build_folds_job(
            run.name,
            run.namespace,
            run.uid,
            run.revision,
            folds,
            spec.execution.parallelism,
            settings.jobs,
            suspend=run.suspended,
        )
        _create(clients.batch.create_namespaced_job, run.namespace, manifest)
        patch.announce("FoldsStarted", f"Job {name}: {folds} walk-forward folds")
    elif _check_job(clients, run, job, patch, status) == "Failed":
        return False
    update = _in_progress(
        clients, run, name, job, status, f"walk-forward: {done}/{folds} folds done"
    )
    _update_if_changed(patch, status, {**update, "progress": progress})
    return False


def _check_job(
    clients: Clients, run: Run, job: Any, patch: _Recorder, status: dict[str, Any]
) -> str:
    """How ``job`` went ("Running", "Succeeded" or "Failed"). A failure fails the run; a
    running Job is suspended or resumed as the spec says."""
    outcome, reason = projection.job_outcome(_serialize(job))
    if outcome == "Failed":
        _report_failure(clients, run, job.metadata.name, reason, patch, status)
    elif outcome == "Running":
        _sync_suspension(clients, run, job)
    return outcome


def _update_if_changed(patch: _Recorder, status: dict[str, Any], update: dict[str, Any]) -> None:
    """Patch only what moved: unchanged conditions keep their entries, so comparing them
    notices a new message or stall without rewriting status every reconcile."""
    fields = ("phase", "progress", "conditions", "observedGeneration")
    if any(status.get(field) != update.get(field) for field in fields if field in update):
        patch.status.update(update)


def _sync_suspension(clients: Clients, run: Run, job: Any) -> None:
    """Suspend or resume the Job as the spec says (a suspended Job keeps no pods)."""
    if bool(job.spec.suspend) != run.suspended:
        clients.batch.patch_namespaced_job(
            job.metadata.name, run.namespace, {"spec": {"suspend": run.suspended}}
        )


def _observe_batch(clients: Clients, run: Run, batch: int) -> None:
    """Record how long the finished batch took, from its Job's start to completion."""
    if batch < 0:
        return
    job = _read(
        clients.batch.read_namespaced_job,
        batch_job_name(run.name, run.revision, batch),
        run.namespace,
    )
    if job is not None and job.status.start_time and job.status.completion_time:
        seconds = (job.status.completion_time - job.status.start_time).total_seconds()
        metrics.BATCH_SECONDS.observe(seconds)


def _serialize(job: Any) -> dict[str, Any]:
    serialized: dict[str, Any] = client.ApiClient().sanitize_for_serialization(job)  # type: ignore[no-untyped-call]
    return serialized


def _follow(
    run: Run,
    name: str,
    job: Any,
    manifest: dict[str, Any],
    patch: _Recorder,
    clients: Clients,
    settings: OperatorSettings,
    status: dict[str, Any],
) -> None:
    """Create ``manifest`` if its Job is absent; when the Job ends, report its result or
    failure."""
    if job is None:
        ensure_worker_rbac(clients, run.namespace, settings)
        _remove_stale_jobs(clients, run)
        _create(clients.batch.create_namespaced_job, run.namespace, manifest)
        patch.announce("JobCreated", f"Job {name} created")
    else:
        outcome = _check_job(clients, run, job, patch, status)
        if outcome == "Failed":
            return
        if outcome == "Succeeded":
            _report_result(run, patch, clients, status)
            return
    update = _in_progress(clients, run, name, job, status, f"Job {name} running")
    progress = _reported_progress(clients, run)
    if progress is not None:
        update["progress"] = progress
    _update_if_changed(patch, status, update)


def _report_result(run: Run, patch: _Recorder, clients: Clients, status: dict[str, Any]) -> None:
    """Project the result the run's finished Job stored into status."""
    result = _read(
        clients.core.read_namespaced_config_map,
        result_name(run.name, run.revision),
        run.namespace,
    )
    if result is None or "status.json" not in (result.data or {}):
        patch.status.update(
            projection.failed(
                status,
                run.generation,
                "ResultMissing",
                "the Job succeeded but wrote no result",
                now(),
            )
        )
        return
    document = json.loads(result.data["status.json"])
    patch.status.update(projection.succeeded(status, run.generation, document, now()))


def _remove_stale_jobs(clients: Clients, run: Run) -> None:
    """Jobs of earlier revisions go when the spec changes (their pods with them)."""
    jobs = clients.batch.list_namespaced_job(run.namespace, label_selector=run_selector(run.name))
    for job in jobs.items:
        if job.metadata.labels.get("stratopt.io/revision") != run.revision:
            clients.batch.delete_namespaced_job(
                job.metadata.name, run.namespace, propagation_policy="Background"
            )
