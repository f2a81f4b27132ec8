"""The few API calls a worker pod makes, over HTTPS with its ServiceAccount.

A worker reads its run and its shard (waiting for it with a watch) and writes ConfigMaps;
that is all. The kubernetes
client takes a quarter of a second to import, an eighth of a pod's start-up budget, so
the worker makes these calls with the standard library instead.
"""

from __future__ import annotations

import json
import os
import ssl
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from stratopt.api._resource import GROUP, VERSION
from stratopt.api.kinds import PLURALS

if TYPE_CHECKING:
    from stratopt.runtime.stored import StoredResults

SERVICE_ACCOUNT = Path("/var/run/secrets/kubernetes.io/serviceaccount")
#: Seconds one API call may take before the worker gives up on it.
TIMEOUT_SECONDS = 30.0
#: Seconds between the tries of a call the API server did not answer, or answered
#: "later" (429, 5xx): about five minutes in all, so that a worker rides out a
#: control-plane restart as the operator does.
RETRY_BACKOFFS = (1, 1, 2, 3, 5, 8, 13, 21, *(30,) * 8)
#: Answers that say "try again": too many requests, and the server's own troubles.
RETRIED_STATUSES = frozenset({429, 500, 502, 503, 504})


class ApiError(Exception):
    """The API server refused a call."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(f"{status} {reason}")
        self.status = status


class Cluster:
    """The API server of the pod's cluster, as the pod's ServiceAccount.

    Args:
        server: the API server's URL.
        token_file: the ServiceAccount token, read at each call (kubelet rotates it).
        ca_file: the CA bundle that signed the API server's certificate; default the
            system's.
    """

    def __init__(self, server: str, token_file: Path, ca_file: Path | None = None) -> None:
        self.server = server.rstrip("/")
        self.token_file = token_file
        self.sleep = time.sleep
        self._tls = ssl.create_default_context(cafile=None if ca_file is None else str(ca_file))

    @classmethod
    def in_pod(cls, environ: os._Environ[str] | dict[str, str] = os.environ) -> Cluster:
        """The cluster this pod runs in (its service host and mounted ServiceAccount)."""
        host, port = environ.get("KUBERNETES_SERVICE_HOST"), environ.get("KUBERNETES_SERVICE_PORT")
        token = SERVICE_ACCOUNT / "token"
        if not host or not port or not token.is_file():
            raise RuntimeError(
                "not in a Kubernetes pod with a ServiceAccount: the worker runs in the "
                "operator's Job pods; run a spec on this machine with `stratopt run FILE`"
            )
        return cls(f"https://{_host(host)}:{port}", token, SERVICE_ACCOUNT / "ca.crt")

    def request(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        """One API call, tried again while the server does not answer or answers "later"
        (:data:`RETRY_BACKOFFS`); a refusal raises :class:`ApiError` at once."""
        for backoff in (*RETRY_BACKOFFS, None):
            try:
                return self._request(method, path, body)
            except ApiError as exc:
                if exc.status not in RETRIED_STATUSES or backoff is None:
                    raise
            except (urllib.error.URLError, OSError):  # refused, reset, timed out
                if backoff is None:
                    raise
            self.sleep(backoff)
        raise AssertionError("unreachable")

    def _request(self, method: str, path: str, body: dict[str, Any] | None) -> Any:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(f"{self.server}{path}", data=data, method=method)
        request.add_header("Authorization", f"Bearer {self.token_file.read_text().strip()}")
        request.add_header("Accept", "application/json")
        if data is not None:
            request.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS, context=self._tls) as r:
                return json.loads(r.read())
        except urllib.error.HTTPError as exc:
            detail = exc.read().decode(errors="replace")
            try:
                message = json.loads(detail).get("message", detail)
            except ValueError:
                message = detail
            raise ApiError(exc.code, f"{method} {path}: {message}") from exc

    def resource(self, kind: str, namespace: str, name: str) -> dict[str, Any]:
        """A stratopt resource, whole."""
        path = f"/apis/{GROUP}/{VERSION}/namespaces/{namespace}/{PLURALS[kind]}/{name}"
        found: dict[str, Any] = self.request("GET", path)
        return found

    def config_map_data(self, namespace: str, name: str) -> dict[str, str]:
        found = self.request("GET", f"/api/v1/namespaces/{namespace}/configmaps/{name}")
        return dict(found.get("data") or {})

    def await_config_map(self, namespace: str, name: str, seconds: float) -> dict[str, str] | None:
        """The data of ConfigMap ``name`` once it exists; None if it does not within
        ``seconds``. One LIST, then a watch of that one name from the LIST's version, so
        a waiting pod costs the API server one open request, not a poll."""
        deadline = time.monotonic() + seconds
        collection = f"/api/v1/namespaces/{namespace}/configmaps"
        only = {"fieldSelector": f"metadata.name={name}"}
        while True:
            found = self.request("GET", f"{collection}?{urllib.parse.urlencode(only)}")
            if found["items"]:
                return dict(found["items"][0].get("data") or {})
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return None
            query = {
                **only,
                "watch": "1",
                "resourceVersion": found["metadata"]["resourceVersion"],
                "timeoutSeconds": str(max(1, min(int(remaining), 300))),
            }
            try:
                for event in self._stream(f"{collection}?{urllib.parse.urlencode(query)}"):
                    if event.get("type") in ("ADDED", "MODIFIED"):
                        return dict(event["object"].get("data") or {})
                    if event.get("type") == "ERROR":  # e.g. the version expired: list again
                        break
            except (urllib.error.URLError, OSError):  # the server went away: list again
                self.sleep(1)

    def _stream(self, path: str) -> Iterator[dict[str, Any]]:
        """The events of a watch, one JSON object a line, until the server ends it."""
        request = urllib.request.Request(f"{self.server}{path}")
        request.add_header("Authorization", f"Bearer {self.token_file.read_text().strip()}")
        # The server closes the watch after its timeoutSeconds (at most 300).
        opened = urllib.request.urlopen(request, timeout=330, context=self._tls)
        with opened as response:
            for line in response:
                if line.strip():
                    yield json.loads(line)

    def config_maps_data(self, namespace: str, selector: str) -> StoredResults:
        """The data of the ConfigMaps that ``selector`` matches, by name, in one LIST."""
        query = urllib.parse.urlencode({"labelSelector": selector})
        found = self.request("GET", f"/api/v1/namespaces/{namespace}/configmaps?{query}")
        return {item["metadata"]["name"]: item.get("data") or {} for item in found["items"]}

    def store_config_map(self, namespace: str, configmap: dict[str, Any]) -> None:
        """Create ``configmap``, or replace the one of its name (a retried pod's)."""
        collection = f"/api/v1/namespaces/{namespace}/configmaps"
        try:
            self.request("POST", collection, configmap)
        except ApiError as exc:
            if exc.status != 409:
                raise
            name = configmap["metadata"]["name"]
            self.request("PUT", f"{collection}/{name}", configmap)


def _host(host: str) -> str:
    return f"[{host}]" if ":" in host else host
