"""The worker's API calls: the requests it sends and how it reads the answers, against
a local HTTP server that answers as the API server does (the cluster tests run them
against a real one)."""

from __future__ import annotations

import http.server
import json
import socket
import threading
import urllib.error
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from stratopt.jobs._cluster import RETRY_BACKOFFS, ApiError, Cluster


class FakeApiServer(http.server.BaseHTTPRequestHandler):
    """Stores ConfigMaps by name; POST of an existing name is a 409 Conflict."""

    stored: dict[str, dict[str, Any]]
    seen: list[tuple[str, str, str]]
    unavailable: int = 0

    def _answer(self, status: int, body: dict[str, Any]) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _body(self) -> dict[str, Any]:
        found: dict[str, Any] = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        return found

    def _seen(self) -> None:
        self.seen.append((self.command, self.path, self.headers["Authorization"]))

    def do_GET(self) -> None:
        self._seen()
        if self.unavailable:  # a control plane coming back: "later" a few times
            type(self).unavailable -= 1
            self._answer(503, {"kind": "Status", "message": "etcdserver: leader changed"})
            return
        name = self.path.rsplit("/", 1)[-1]
        if "?labelSelector=" in self.path:
            self._answer(200, {"items": list(self.stored.values())})
        elif name in self.stored:
            self._answer(200, self.stored[name])
        else:
            self._answer(404, {"kind": "Status", "message": f'configmaps "{name}" not found'})

    def do_POST(self) -> None:
        self._seen()
        body = self._body()
        if body["metadata"]["name"] in self.stored:
            self._answer(409, {"kind": "Status", "message": "already exists"})
            return
        self.stored[body["metadata"]["name"]] = body
        self._answer(201, body)

    def do_PUT(self) -> None:
        self._seen()
        body = self._body()
        self.stored[body["metadata"]["name"]] = body
        self._answer(200, body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture()
def served(tmp_path: Path) -> Iterator[tuple[Cluster, type[FakeApiServer], Path]]:
    handler = type("Handler", (FakeApiServer,), {"stored": {}, "seen": []})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    token = tmp_path / "token"
    token.write_text("first\n")
    try:
        yield Cluster(f"http://127.0.0.1:{server.server_address[1]}", token), handler, token
    finally:
        server.shutdown()
        server.server_close()


def _configmap(name: str, data: dict[str, str]) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": data}


def test_a_stored_configmap_is_replaced_when_it_exists(
    served: tuple[Cluster, type[FakeApiServer], Path],
) -> None:
    cluster, server, token = served
    cluster.store_config_map("ns", _configmap("result", {"metrics.json": "[1]"}))
    token.write_text("rotated\n")
    cluster.store_config_map("ns", _configmap("result", {"metrics.json": "[2]"}))
    assert cluster.config_map_data("ns", "result") == {"metrics.json": "[2]"}
    assert [(method, auth) for method, _, auth in server.seen] == [
        ("POST", "Bearer first"),
        ("POST", "Bearer rotated"),
        ("PUT", "Bearer rotated"),
        ("GET", "Bearer rotated"),
    ]
    assert server.seen[2][1] == "/api/v1/namespaces/ns/configmaps/result"


def test_listing_gives_each_configmaps_data_by_name(
    served: tuple[Cluster, type[FakeApiServer], Path],
) -> None:
    cluster, server, _ = served
    cluster.store_config_map("ns", _configmap("a", {"k": "1"}))
    cluster.store_config_map("ns", {**_configmap("b", {}), "data": None})
    assert cluster.config_maps_data("ns", "stratopt.io/run=r,stratopt.io/revision=v") == {
        "a": {"k": "1"},
        "b": {},
    }
    assert server.seen[-1][1] == (
        "/api/v1/namespaces/ns/configmaps?labelSelector="
        "stratopt.io%2Frun%3Dr%2Cstratopt.io%2Frevision%3Dv"
    )


def test_a_refused_call_says_what_the_api_server_said(
    served: tuple[Cluster, type[FakeApiServer], Path],
) -> None:
    cluster, _, _ = served
    with pytest.raises(ApiError, match=r'404 GET .*/configmaps/absent: configmaps "absent"') as e:
        cluster.config_map_data("ns", "absent")
    assert e.value.status == 404


def test_a_call_is_tried_again_while_the_server_answers_later(
    served: tuple[Cluster, type[FakeApiServer], Path],
) -> None:
    cluster, server, _ = served
    cluster.store_config_map("ns", _configmap("result", {"k": "v"}))
    waits: list[float] = []
    cluster.sleep = waits.append
    server.unavailable = 3
    assert cluster.config_map_data("ns", "result") == {"k": "v"}
    assert waits == list(RETRY_BACKOFFS[:3])


def test_a_server_that_never_answers_fails_the_call_after_about_five_minutes(
    tmp_path: Path,
) -> None:
    with socket.socket() as closed:  # a port nothing listens on
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    token = tmp_path / "token"
    token.write_text("t\n")
    cluster = Cluster(f"http://127.0.0.1:{port}", token)
    waits: list[float] = []
    cluster.sleep = waits.append
    with pytest.raises(urllib.error.URLError):
        cluster.config_map_data("ns", "result")
    assert waits == list(RETRY_BACKOFFS) and 240 <= sum(waits) <= 360


def test_outside_a_pod_the_worker_says_where_it_runs() -> None:
    with pytest.raises(RuntimeError, match="stratopt run FILE"):
        Cluster.in_pod({})
