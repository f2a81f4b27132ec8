"""How the operator logs in when it runs in a pod."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

import kopf

SERVICE_ACCOUNT = Path("/var/run/secrets/kubernetes.io/serviceaccount")


def in_cluster_connection(
    environ: Mapping[str, str] = os.environ, account: Path = SERVICE_ACCOUNT
) -> kopf.ConnectionInfo | None:
    """The pod's ServiceAccount, at the API address Kubernetes gives every pod
    (``KUBERNETES_SERVICE_HOST``/``_PORT``, as client-go's in-cluster config reads it).
    kopf's own service-account login names ``kubernetes.default.svc`` instead, which
    fails wherever the pod cannot resolve cluster DNS names. None outside a pod."""
    host, port = environ.get("KUBERNETES_SERVICE_HOST"), environ.get("KUBERNETES_SERVICE_PORT")
    token = account / "token"
    if not host or not port or not token.exists():
        return None
    namespace = account / "namespace"
    return kopf.ConnectionInfo(
        server=f"https://[{host}]:{port}" if ":" in host else f"https://{host}:{port}",
        ca_path=str(account / "ca.crt"),
        token=token.read_text().strip(),
        default_namespace=namespace.read_text().strip() if namespace.exists() else None,
    )
