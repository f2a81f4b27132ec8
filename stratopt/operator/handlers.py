"""kopf handlers: each parses nothing and decides nothing; it calls one function.

Run with ``stratopt operator`` (or ``kopf run -m stratopt.operator.handlers``).
"""

from __future__ import annotations

from typing import Any

import kopf
from prometheus_client import start_http_server

from stratopt.api._resource import GROUP, VERSION
from stratopt.operator import metrics
from stratopt.operator.credentials import in_cluster_connection
from stratopt.operator.reconcile import Clients, reconcile
from stratopt.runtime.protocol import PLURALS, load_client_configuration
from stratopt.settings import OperatorSettings

SETTINGS = OperatorSettings.from_environment()
_serving: set[int] = set()


def serve_metrics(port: int) -> None:
    """Serve the metrics once per process, even when the operator is restarted in it."""
    if port and port not in _serving:
        start_http_server(port, registry=metrics.REGISTRY)
        _serving.add(port)


@kopf.on.login(id="stratopt-login")
def login(**kwargs: Any) -> kopf.ConnectionInfo | None:
    # In a pod: its ServiceAccount; elsewhere: the kubeconfig KUBECONFIG names right now.
    info: kopf.ConnectionInfo | None = in_cluster_connection()
    return info or kopf.login_with_kubeconfig(**kwargs)


@kopf.on.startup(id="stratopt-startup")
def configure(settings: kopf.OperatorSettings, **_: Any) -> None:
    load_client_configuration()
    serve_metrics(SETTINGS.metrics_port)
    # kopf's bookkeeping lives in annotations: the structural status schema would prune it.
    settings.persistence.progress_storage = kopf.AnnotationsProgressStorage(prefix=GROUP)
    settings.persistence.diffbase_storage = kopf.AnnotationsDiffBaseStorage(
        prefix=GROUP, key="last-handled-configuration"
    )
    settings.posting.level = 30  # warnings and errors become Events


def _register(kind: str, plural: str) -> None:
    @kopf.timer(
        GROUP,
        VERSION,
        plural,
        interval=SETTINGS.reconcile_interval,
        initial_delay=0,
        id=f"{plural}-reconcile",
    )
    def run_reconcile(body: kopf.Body, patch: kopf.Patch, **_: Any) -> None:
        try:
            reconcile(kind, dict(body), patch, Clients.default(), SETTINGS)
        except Exception:
            metrics.HANDLER_ERRORS.labels(kind).inc()
            raise


for _kind, _plural in PLURALS.items():
    _register(_kind, _plural)
