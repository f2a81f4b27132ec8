"""kopf handlers: they watch, and mark runs for the reconcile loop; none decides anything.

Run with ``stratopt operator`` (or ``kopf run -m stratopt.operator.handlers``).

Only watch-event handlers are registered, never timers or deletion handlers: kopf then
puts no finalizer on the runs, so deleting a run (or its namespace) never waits for the
operator; what a run owns goes with it through owner references.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import random
import time
from typing import Any

import kopf
from kubernetes import config
from kubernetes.client import ApiException
from prometheus_client import start_http_server
from urllib3.exceptions import HTTPError

from stratopt.api._resource import GROUP, VERSION
from stratopt.api.kinds import PLURALS
from stratopt.api.v1alpha1.status import Reason
from stratopt.errors import InputError
from stratopt.operator import monitoring
from stratopt.operator.credentials import in_cluster_connection
from stratopt.operator.queue import RunKey, RunQueue, is_settled, owning_run, spec_unanswered
from stratopt.operator.reconcile import Clients, RunMemory, announce, reconcile
from stratopt.operator.snapshot import Run
from stratopt.operator.steps import Announce
from stratopt.settings import OperatorSettings

logger = logging.getLogger("stratopt.operator")
_serving: set[int] = set()
#: Seconds between kopf's retries of an API request, about five minutes in all.
API_OUTAGE_BACKOFFS = (1, 1, 2, 3, 5, 8, 13, 21, *(30,) * 8)
#: What one start of the operator made: its queue and its reconcile loop.
_state: dict[str, Any] = {}


def load_client_configuration() -> None:
    """Configure the kubernetes client: in-cluster, else the kubeconfig in ``KUBECONFIG``
    (read now, not when the library was imported)."""
    try:
        config.load_incluster_config()  # type: ignore[no-untyped-call]
    except config.ConfigException:
        config.load_kube_config(config_file=os.environ.get("KUBECONFIG"))  # type: ignore[no-untyped-call]


def serve_metrics(port: int) -> None:
    """Serve the metrics once per process, even when the operator is restarted in it."""
    if port and port not in _serving:
        start_http_server(port, registry=monitoring.REGISTRY)
        _serving.add(port)


def queue() -> RunQueue:
    found: RunQueue = _state["queue"]
    return found


def memory() -> RunMemory:
    found: RunMemory = _state["memory"]
    return found


def forget(key: RunKey, runs: RunQueue | None = None, kept: RunMemory | None = None) -> None:
    """``key`` is finished or gone: no more reconciles until an event marks it, and
    nothing kept for it."""
    (runs or queue()).forget(key)
    (kept or memory()).forget(key)


@kopf.on.login(id="stratopt-login")
def login(**kwargs: Any) -> kopf.ConnectionInfo | None:
    # In a pod: its ServiceAccount; elsewhere: the kubeconfig KUBECONFIG names right now.
    info: kopf.ConnectionInfo | None = in_cluster_connection()
    return info or kopf.login_with_kubeconfig(**kwargs)


@kopf.on.startup(id="stratopt-startup")
async def configure(settings: kopf.OperatorSettings, **_: Any) -> None:
    try:
        ours = OperatorSettings.from_environment()
    except InputError as exc:
        raise kopf.PermanentError(str(exc)) from None  # kopf then does not start at all
    load_client_configuration()
    serve_metrics(ours.metrics_port)
    settings.peering.priority = (
        ours.peering_priority if ours.peering_priority is not None else random.randint(0, 32767)
    )
    settings.peering.lifetime = ours.peering_lifetime
    # kopf's bookkeeping lives in annotations: the structural status schema would prune it.
    settings.persistence.progress_storage = kopf.AnnotationsProgressStorage(prefix=GROUP)
    settings.persistence.diffbase_storage = kopf.AnnotationsDiffBaseStorage(
        prefix=GROUP, key="last-handled-configuration"
    )
    settings.posting.level = logging.WARNING  # warnings and errors become Events
    # kopf's watches retry a silent API server for under a minute by default, then end the
    # operator: ride out about five (a control-plane restart or upgrade) before that.
    settings.networking.error_backoffs = API_OUTAGE_BACKOFFS
    # A fresh queue per start: an operator restarted in this process begins from kopf's
    # first listing, as a new process would.
    _state["queue"] = RunQueue(ours.resync_interval)
    _state["memory"] = RunMemory()
    _state["loop"] = asyncio.create_task(drive(queue(), ours), name="stratopt-reconcile")
    logger.info(
        "operator started: resync every %gs, worker image %s",
        ours.resync_interval,
        ours.jobs.image,
    )


@kopf.on.cleanup(id="stratopt-cleanup")
async def stop(**_: Any) -> None:
    task = _state.pop("loop", None)
    if task is not None:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    logger.info("operator stopped")


async def drive(runs: RunQueue, settings: OperatorSettings) -> None:
    """Reconcile marked and due runs, up to ``settings.reconcile_workers`` at once, each in
    a worker thread (the API client blocks, a replay computes), for as long as the
    operator runs. A mark or a finished reconcile wakes the loop at once; otherwise it
    sleeps until the next resync is due."""
    clients = Clients.default()
    kept = memory()
    loop = asyncio.get_running_loop()
    marked = asyncio.Event()
    runs.on_mark(lambda: loop.call_soon_threadsafe(marked.set))
    limit = settings.reconcile_workers
    working: dict[RunKey, asyncio.Future[None]] = {}
    try:
        while True:
            marked.clear()  # before draining: a mark from now on wakes the next wait
            for key in runs.due(time.monotonic(), working, limit - len(working)):
                working[key] = asyncio.ensure_future(
                    asyncio.to_thread(reconcile_one, runs, key, clients, settings, kept)
                )
            full = len(working) >= limit
            timeout = None if full else runs.wait(time.monotonic(), working)
            woken: asyncio.Future[Any] = asyncio.ensure_future(marked.wait())
            awaited: set[asyncio.Future[Any]] = {woken, *working.values()}
            await asyncio.wait(awaited, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
            woken.cancel()
            for key, done in [(k, f) for k, f in working.items() if f.done()]:
                del working[key]
                if done.exception() is not None:  # never the end of every run's reconciles
                    logger.error(
                        "reconciling %s failed unexpectedly",
                        key.reference(),
                        exc_info=done.exception(),
                    )
    finally:
        for pending in working.values():
            pending.cancel()


def reconcile_one(
    runs: RunQueue,
    key: RunKey,
    clients: Clients,
    settings: OperatorSettings,
    kept: RunMemory,
) -> None:
    """Read the run, move it one step, write its status; log and retry on failure."""
    try:
        body = clients.custom.get_namespaced_custom_object(
            GROUP, VERSION, key.namespace, key.plural, key.name
        )
    except ApiException as exc:
        if exc.status == 404:
            forget(key, runs, kept)
            return
        _failed(runs, key, exc)
        return
    except Exception as exc:  # the API server unreachable: retried like any failure
        _failed(runs, key, exc)
        return
    if is_settled(body):
        forget(key, runs, kept)
        return
    try:
        status = reconcile(key.kind, body, clients, settings, kept)
        if status:
            clients.custom.patch_namespaced_custom_object_status(
                GROUP, VERSION, key.namespace, key.plural, key.name, {"status": status}
            )
    except Exception as exc:  # whatever it is: logged, counted, retried
        _failed(runs, key, exc)
        return
    outage = runs.succeeded(key, time.monotonic())
    if outage is not None and outage.worth_saying:  # why the run waited, now it can be said
        announce(clients, Run.of(key.kind, body), Announce(Reason.RECOVERED, outage.message()))
    if is_settled({**body, "status": {**(body.get("status") or {}), **status}}):
        forget(key, runs, kept)


def _failed(runs: RunQueue, key: RunKey, exc: Exception) -> None:
    failures, delay = runs.failed(key, time.monotonic(), _describe(exc))
    monitoring.HANDLER_ERRORS.labels(key.kind).inc()
    logger.error(
        "reconciling failed (attempt %d, next in %gs): %s",
        failures,
        delay,
        _describe(exc),
        exc_info=not isinstance(exc, ApiException | HTTPError),
        extra={"k8s_ref": key.reference()},
    )


def _describe(exc: Exception) -> str:
    if isinstance(exc, ApiException):
        return f"the API answered {exc.status} {exc.reason}: {_api_message(exc)}"
    if isinstance(exc, HTTPError):
        return f"the API server did not answer: {type(exc).__name__}: {exc}"
    return f"{type(exc).__name__}: {exc}"


def _api_message(exc: ApiException) -> str:
    try:
        return str(json.loads(exc.body or "{}").get("message") or exc.body)
    except ValueError:
        return str(exc.body)


def _register(kind: str, plural: str) -> None:
    @kopf.on.event(GROUP, VERSION, plural, id=f"{plural}-watch")
    def watch_run(type: str, body: kopf.Body, name: str, namespace: str | None, **_: Any) -> None:
        key = RunKey(kind, namespace or "", name)
        phase = None if type == "DELETED" else (body.get("status") or {}).get("phase")
        monitoring.CENSUS.observe(key, phase)
        if type == "DELETED" or is_settled(body):
            forget(key)
        elif type in (None, "ADDED") or spec_unanswered(body):
            queue().mark(key)  # new, listed at start, or its spec changed
        else:
            queue().track(key, time.monotonic())  # e.g. our own status write


@kopf.on.event(
    "batch", "v1", "jobs", labels={"app.kubernetes.io/managed-by": "stratopt"}, id="jobs-watch"
)
def watch_job(body: kopf.Body, **_: Any) -> None:
    key = owning_run(body)
    if key is not None:
        queue().mark(key)


@kopf.on.event(
    "",
    "v1",
    "configmaps",
    # What worker pods store (the operator's own shard inputs carry managed-by).
    labels={"stratopt.io/run": kopf.PRESENT, "app.kubernetes.io/managed-by": kopf.ABSENT},
    id="results-watch",
)
def watch_result(body: kopf.Body, **_: Any) -> None:
    """A shard's result wakes its run at once: the next batch starts when the last
    result is stored, not a pod status update and a Job status update later."""
    key = owning_run(body)
    if key is not None:
        queue().mark(key)


for _kind, _plural in PLURALS.items():
    _register(_kind, _plural)
