"""One reconciliation of a run: observe what exists, plan, then act.

``observe`` reads one snapshot (the run's Jobs, its ConfigMaps' data, and, only where the
plan looks at them, the pods and Events of an unfinished or failed Job); ``plan`` (pure,
in :mod:`stratopt.operator.plan`) decides; ``act`` applies the steps idempotently.

Everything a plan needs is read back from the API, so a restarted operator carries on.
:class:`RunMemory` keeps, per run, only what saves work: the ConfigMaps already read
(each is read once, then only listed by name and version) and the distributed search's
replay (each reconcile tells the driver only the batches that finished since the last).
:class:`CheckedAccess` keeps, per namespace, when the workers' ServiceAccount, Role and
RoleBinding were last found in place, so that the Job of each batch does not read them
again.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from kubernetes import client
from kubernetes.client import ApiException

from stratopt.api._resource import GROUP, VERSION
from stratopt.api.kinds import PLURALS
from stratopt.api.v1alpha1.status import Phase
from stratopt.operator import monitoring
from stratopt.operator import status as projection
from stratopt.operator.manifests import (
    build_event,
    build_worker_network_policy,
    build_worker_rbac,
)
from stratopt.operator.plan import plan
from stratopt.operator.queue import RunKey
from stratopt.operator.snapshot import (
    JobOutcome,
    JobView,
    Run,
    Snapshot,
    answered,
    job_view,
    needs_analysis,
    workload_view,
)
from stratopt.operator.steps import (
    Announce,
    Compact,
    CountEvaluations,
    EnsureJob,
    Plan,
    RecordBatch,
    RecordReplay,
    RemoveJobs,
    SetStatus,
    SetSuspended,
    SetWorkloadActive,
    Step,
)
from stratopt.runtime.distributed import SearchState
from stratopt.runtime.protocol import (
    WORKLOAD_JOB_LABEL,
    WorkerFailure,
    read_failure,
    run_selector,
)
from stratopt.runtime.stored import StoredResults
from stratopt.settings import OperatorSettings

logger = logging.getLogger("stratopt.operator")

#: What a metadata-only LIST asks for: names and versions, no payloads.
#: Kueue's API, whose Workloads say why a queued Job waits.
KUEUE_GROUP, KUEUE_VERSION = "kueue.x-k8s.io", "v1beta2"
METADATA_ONLY = "application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1"


def now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class Clients:
    """API clients; their objects are handled as ``Any`` at this I/O boundary."""

    core: Any
    batch: Any
    rbac: Any
    custom: Any
    networking: Any = None

    @classmethod
    def default(cls) -> Clients:
        api = TimedApiClient()
        return cls(
            client.CoreV1Api(api),
            client.BatchV1Api(api),
            client.RbacAuthorizationV1Api(api),
            client.CustomObjectsApi(api),
            client.NetworkingV1Api(api),
        )


#: Seconds to connect to the API server, and to wait for its answer.
REQUEST_TIMEOUT = (5.0, 60.0)


class TimedApiClient(client.ApiClient):
    """An API client whose requests give up after :data:`REQUEST_TIMEOUT`: a connection
    that died with the API server (restarted, or cut off) fails the reconcile, which is
    retried, instead of blocking every run's reconciles for good."""

    def call_api(
        self,
        method: Any,
        url: Any,
        header_params: Any = None,
        body: Any = None,
        post_params: Any = None,
        _request_timeout: Any = None,
    ) -> Any:
        timeout = REQUEST_TIMEOUT if _request_timeout is None else _request_timeout
        return super().call_api(method, url, header_params, body, post_params, timeout)


@dataclass
class _Remembered:
    uid: str
    revision: str
    #: ConfigMap name to (resourceVersion, data), as last read.
    config_maps: dict[str, tuple[str, dict[str, str]]] = field(default_factory=dict)
    search: SearchState | None = None


class RunMemory:
    """Per run (and revision), what a reconcile keeps for the next: only work saved, never
    a decision; losing it (a restart) costs one full read. At most ``kept`` runs, the
    least recently reconciled forgotten first; settled runs are forgotten at once. Also
    holds the workers' access checked per namespace, for all runs."""

    def __init__(self, kept: int = 256) -> None:
        self.kept = kept
        self.access = CheckedAccess()
        self._runs: OrderedDict[RunKey, _Remembered] = OrderedDict()
        self._lock = threading.Lock()

    def of(self, run: Run) -> _Remembered:
        with self._lock:
            found = self._runs.pop(run.key, None)
            if found is None or (found.uid, found.revision) != (run.uid, run.revision):
                found = _Remembered(run.uid, run.revision)
            self._runs[run.key] = found
            while len(self._runs) > self.kept:
                self._runs.popitem(last=False)
            return found

    def forget(self, key: RunKey) -> None:
        with self._lock:
            self._runs.pop(key, None)

    def __len__(self) -> int:
        return len(self._runs)


#: How long the workers' access in a namespace counts as checked. A search creates a Job
#: per batch; within this time its Jobs skip the three reads, and access that was
#: deleted meanwhile is mended at most this late (its pods wait for it, none fails).
ACCESS_CHECK_SECONDS = 60.0


class CheckedAccess:
    """When the workers' access (ServiceAccount, Role, RoleBinding) of each namespace was
    last found as this operator grants it. Shared by the reconciles of all runs."""

    def __init__(
        self, seconds: float = ACCESS_CHECK_SECONDS, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.seconds, self.clock = seconds, clock
        self._checked: dict[tuple[str, str], float] = {}
        self._lock = threading.Lock()

    def due(self, namespace: str, account: str) -> bool:
        with self._lock:
            checked = self._checked.get((namespace, account))
        return checked is None or self.clock() - checked >= self.seconds

    def found(self, namespace: str, account: str) -> None:
        with self._lock:
            self._checked[(namespace, account)] = self.clock()


def _listed(response: Any) -> list[dict[str, Any]]:
    """The items of a LIST asked for with ``_preload_content=False``: plain JSON, which
    skips the client's model classes."""
    items: list[dict[str, Any]] = json.loads(response.data).get("items") or []
    return items


def read_config_maps(core: Any, run: Run, memory: _Remembered) -> StoredResults:
    """The data of the run's revision's ConfigMaps, by name. One metadata-only LIST,
    then a GET of each ConfigMap not read before or changed since (only a single-mode
    search's progress changes), so each result is read once."""
    listing = core.list_namespaced_config_map(
        run.namespace,
        label_selector=run_selector(run.name, run.revision),
        _preload_content=False,
        _headers={"Accept": METADATA_ONLY},
    )
    current: dict[str, tuple[str, dict[str, str]]] = {}
    for item in _listed(listing):
        name, version = item["metadata"]["name"], item["metadata"].get("resourceVersion", "")
        known = memory.config_maps.get(name)
        if known is None or known[0] != version:
            found = _read(core.read_namespaced_config_map, name, run.namespace)
            if found is None:  # deleted between the LIST and the GET
                continue
            known = (str(found.metadata.resource_version or ""), dict(found.data or {}))
        current[name] = known
    memory.config_maps = current
    return {name: data for name, (_, data) in current.items()}


def observe(
    clients: Clients, kind: str, body: Mapping[str, Any], memory: _Remembered | None = None
) -> Snapshot:
    """The snapshot ``plan`` decides from."""
    run = Run.of(kind, body)
    spec = dict(body.get("spec") or {})
    status = dict(body.get("status") or {})
    if answered(run, status):
        return Snapshot(run, spec, status, now())  # the plan looks at nothing else
    memory = memory or _Remembered(run.uid, run.revision)
    jobs = {
        view.name: view
        for view in (
            job_view(job)
            for job in _listed(
                clients.batch.list_namespaced_job(
                    run.namespace, label_selector=run_selector(run.name), _preload_content=False
                )
            )
        )
    }
    jobs = _with_pod_details(clients, run, jobs)
    jobs = _with_workloads(clients, run, jobs)
    results = read_config_maps(clients.core, run, memory)
    analysis = None
    if needs_analysis(run, spec, jobs):
        analysis = _analysis_status(clients, run, str(spec["fromFeatureAnalysis"]))
    return Snapshot(run, spec, status, now(), jobs, results, analysis)


def _with_workloads(clients: Clients, run: Run, jobs: dict[str, JobView]) -> dict[str, JobView]:
    """The current revision's unfinished queued Jobs with their Kueue Workloads: why
    each waits, and whether the run's suspend holds it back. One LIST, only for them."""
    queued = {
        j.uid: j
        for j in jobs.values()
        if j.revision == run.revision and j.queue is not None and j.outcome is JobOutcome.RUNNING
    }
    if not queued:
        return jobs
    listing = clients.custom.list_namespaced_custom_object(
        KUEUE_GROUP,
        KUEUE_VERSION,
        run.namespace,
        "workloads",
        label_selector=f"{WORKLOAD_JOB_LABEL} in ({','.join(sorted(queued))})",
    )
    for item in listing.get("items") or []:
        uid = str(((item.get("metadata") or {}).get("labels") or {}).get(WORKLOAD_JOB_LABEL))
        job = queued.get(uid)
        if job is not None:
            jobs[job.name] = replace(job, workload=workload_view(item))
    return jobs


def _with_pod_details(clients: Clients, run: Run, jobs: dict[str, JobView]) -> dict[str, JobView]:
    """The current revision's Jobs with what their pods say: why a failed one failed, why
    an unfinished one has no pods or none that fits a node. Read only for such Jobs."""
    current = [j for j in jobs.values() if j.revision == run.revision]
    failed = [j for j in current if j.outcome is JobOutcome.FAILED]
    running = [j for j in current if j.outcome is JobOutcome.RUNNING and not j.suspended]
    selector = run_selector(run.name, run.revision)
    if failed:
        pods = _listed(
            clients.core.list_namespaced_pod(
                run.namespace, label_selector=selector, _preload_content=False
            )
        )
        for job in failed:
            jobs[job.name] = replace(job, failure=_failure(pods, job))
    if running:
        pending = _listed(
            clients.core.list_namespaced_pod(
                run.namespace,
                label_selector=selector,
                field_selector="status.phase=Pending",
                _preload_content=False,
            )
        )
        for job in running:
            own = [p for p in pending if _job_of(p) == job.name]
            refused = None
            if not job.active:
                events = _listed(
                    clients.core.list_namespaced_event(
                        run.namespace,
                        field_selector=f"involvedObject.kind=Job,involvedObject.name={job.name}",
                        _preload_content=False,
                    )
                )
                refused = projection.pod_creation_failure(events)
            jobs[job.name] = replace(
                job, refused=refused, unschedulable=projection.unschedulable_message(own)
            )
    return jobs


def _job_of(pod: Mapping[str, Any]) -> str | None:
    labels = (pod.get("metadata") or {}).get("labels") or {}
    found = labels.get("batch.kubernetes.io/job-name") or labels.get("job-name")
    return None if found is None else str(found)


def _failure(pods: list[dict[str, Any]], job: JobView) -> WorkerFailure | None:
    """What the failed pod of ``job`` reported in its termination message."""
    for pod in pods:
        if _job_of(pod) != job.name:
            continue
        for state in (pod.get("status") or {}).get("containerStatuses") or []:
            terminated = (state.get("state") or {}).get("terminated") or {}
            if terminated.get("exitCode") not in (None, 0) and terminated.get("message"):
                return read_failure(str(terminated["message"]), job.reason)
    return None


def _analysis_status(clients: Clients, run: Run, name: str) -> dict[str, Any] | None:
    try:
        analysis = clients.custom.get_namespaced_custom_object(
            GROUP, VERSION, run.namespace, PLURALS["FeatureAnalysis"], name
        )
    except ApiException as exc:
        if exc.status != 404:
            raise
        return None
    return dict(analysis.get("status") or {})


def reconcile(
    kind: str,
    body: Mapping[str, Any],
    clients: Clients,
    settings: OperatorSettings,
    memory: RunMemory | None = None,
) -> dict[str, Any]:
    """Move the run one step; the status fields to write (empty when nothing moved)."""
    run = Run.of(kind, body)
    remembered = memory.of(run) if memory is not None else None
    snapshot = observe(clients, kind, body, remembered)
    steps = plan(snapshot, settings.jobs, remembered.search if remembered else None)
    if remembered is not None:
        remembered.search = steps.search
    access = memory.access if memory is not None else None
    return act(clients, run, steps, settings, snapshot.status.get("phase"), access)


def act(
    clients: Clients,
    run: Run,
    planned: Plan,
    settings: OperatorSettings,
    phase: str | None,
    access: CheckedAccess | None = None,
) -> dict[str, Any]:
    """Apply the plan's steps (each idempotent, so a retry after a failure is safe); the
    status fields to write."""
    for step in planned.steps:
        phase = _apply(clients, run, step, settings, phase, access)
    return planned.status()


def _apply(
    clients: Clients,
    run: Run,
    step: Step,
    settings: OperatorSettings,
    phase: str | None,
    access: CheckedAccess | None,
) -> str | None:
    if isinstance(step, SetStatus):
        if step.phase is not None:
            monitoring.record_phase(run.key, phase, step.phase)
            if step.phase is Phase.FAILED and phase != Phase.FAILED:
                monitoring.JOB_FAILURES.labels(run.kind).inc()
            return step.phase
    elif isinstance(step, Announce):
        announce(clients, run, step)
    elif isinstance(step, EnsureJob):
        ensure_worker_access(clients, run.namespace, settings, access)
        for name in step.stale:  # earlier revisions' Jobs go, their pods with them
            _delete_job(clients, name, run.namespace)
        for config_map in step.config_maps:
            _create(clients.core.create_namespaced_config_map, run.namespace, config_map)
        _create(clients.batch.create_namespaced_job, run.namespace, step.manifest)
    elif isinstance(step, RemoveJobs):
        for name in step.jobs:
            _delete_job(clients, name, run.namespace)
    elif isinstance(step, Compact):
        for name in step.config_maps:
            _delete(clients.core.delete_namespaced_config_map, name, run.namespace)
        for name in step.jobs:
            _delete_job(clients, name, run.namespace)
    elif isinstance(step, SetSuspended):
        clients.batch.patch_namespaced_job(
            step.job, run.namespace, {"spec": {"suspend": step.suspended}}
        )
    elif isinstance(step, SetWorkloadActive):
        clients.custom.patch_namespaced_custom_object(
            KUEUE_GROUP,
            KUEUE_VERSION,
            run.namespace,
            "workloads",
            step.workload,
            {"spec": {"active": step.active}},
        )
    elif isinstance(step, RecordBatch):
        monitoring.BATCH_SECONDS.observe(step.seconds)
    elif isinstance(step, RecordReplay):
        monitoring.REPLAY_SECONDS.observe(step.seconds)
        logger.debug(
            "replayed %d batches and asked the next in %.3f s",
            step.batches,
            step.seconds,
            extra={"k8s_ref": run.reference()},
        )
    elif isinstance(step, CountEvaluations):
        monitoring.EVALUATIONS.labels(run.kind).inc(step.count)
    return phase


def announce(clients: Clients, run: Run, step: Announce) -> None:
    """Log a milestone and post it as an Event; a failure to post never stops the
    reconciliation."""
    logger.log(
        logging.WARNING if step.warning else logging.INFO,
        "%s: %s",
        step.reason,
        step.message,
        extra={"k8s_ref": run.reference()},
    )
    event = build_event(
        run.kind,
        run.name,
        run.namespace,
        run.uid,
        step.reason,
        step.message,
        now(),
        warning=step.warning,
    )
    try:
        clients.core.create_namespaced_event(run.namespace, event)
    except ApiException as exc:
        monitoring.HANDLER_ERRORS.labels(run.kind).inc()
        logger.warning(
            "cannot post Event %s of %s: %s %s", step.reason, run.name, exc.status, exc.reason
        )


def _create(create: Any, namespace: str, body: dict[str, Any]) -> None:
    try:
        create(namespace, body)
    except ApiException as exc:
        if exc.status != 409:  # already there: this is how ensure stays idempotent
            raise


def _delete(delete: Any, name: str, namespace: str) -> None:
    try:
        delete(name, namespace)
    except ApiException as exc:
        if exc.status != 404:
            raise


def _delete_job(clients: Clients, name: str, namespace: str) -> None:
    try:
        clients.batch.delete_namespaced_job(name, namespace, propagation_policy="Background")
    except ApiException as exc:
        if exc.status != 404:
            raise


def _read(read: Any, name: str, namespace: str) -> Any:
    try:
        return read(name, namespace)
    except ApiException as exc:
        if exc.status == 404:
            return None
        raise


def _serialize(found: Any) -> dict[str, Any]:
    serialized: dict[str, Any] = client.ApiClient().sanitize_for_serialization(found)  # type: ignore[no-untyped-call]
    return serialized


def ensure_worker_access(
    clients: Clients,
    namespace: str,
    settings: OperatorSettings,
    access: CheckedAccess | None = None,
) -> None:
    """The workers' ServiceAccount, Role and RoleBinding, and their NetworkPolicy when
    asked: created the first time a run's Job is, then only read (at most once per
    ``access`` period), and mended when they differ from what this operator grants
    (after an upgrade). They stay in the namespace for its next runs."""
    name = settings.jobs.service_account
    if access is not None and not access.due(namespace, name):
        return
    account, role, binding = build_worker_rbac(namespace, settings.jobs)
    if _read(clients.core.read_namespaced_service_account, name, namespace) is None:
        _create(clients.core.create_namespaced_service_account, namespace, account)
    networking, rbac = clients.networking, clients.rbac
    wanted = [(rbac, "role", role, "rules"), (rbac, "role_binding", binding, "subjects")]
    if settings.jobs.worker_network_policy:
        policy = build_worker_network_policy(namespace, settings.jobs)
        wanted.append((networking, "network_policy", policy, "spec"))
    for group, kind, body, compared in wanted:
        found = _read(getattr(group, f"read_namespaced_{kind}"), name, namespace)
        if found is None:
            _create(getattr(group, f"create_namespaced_{kind}"), namespace, body)
        elif _serialize(found).get(compared) != body[compared]:
            getattr(group, f"patch_namespaced_{kind}")(name, namespace, {compared: body[compared]})
    if access is not None:
        access.found(namespace, name)
