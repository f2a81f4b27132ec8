"""The operator's login in a pod: the ServiceAccount at the address the pod is given."""

from __future__ import annotations

from pathlib import Path

from stratopt.operator.credentials import in_cluster_connection


def account(tmp_path: Path) -> Path:
    (tmp_path / "token").write_text("secret-token\n")
    (tmp_path / "namespace").write_text("stratopt-system")
    (tmp_path / "ca.crt").write_text("-----BEGIN CERTIFICATE-----\n")
    return tmp_path


def test_a_pod_logs_in_at_its_service_address_without_dns(tmp_path: Path) -> None:
    environ = {"KUBERNETES_SERVICE_HOST": "10.96.0.1", "KUBERNETES_SERVICE_PORT": "443"}
    info = in_cluster_connection(environ, account(tmp_path))
    assert info is not None
    assert (info.server, info.token, info.default_namespace) == (
        "https://10.96.0.1:443",
        "secret-token",
        "stratopt-system",
    )
    assert info.ca_path == str(tmp_path / "ca.crt")


def test_an_ipv6_service_address_is_bracketed(tmp_path: Path) -> None:
    environ = {"KUBERNETES_SERVICE_HOST": "fd00::1", "KUBERNETES_SERVICE_PORT": "443"}
    info = in_cluster_connection(environ, account(tmp_path))
    assert info is not None and info.server == "https://[fd00::1]:443"


def test_outside_a_pod_there_is_no_in_cluster_login(tmp_path: Path) -> None:
    assert in_cluster_connection({}, account(tmp_path)) is None
    environ = {"KUBERNETES_SERVICE_HOST": "10.96.0.1", "KUBERNETES_SERVICE_PORT": "443"}
    assert in_cluster_connection(environ, tmp_path / "absent") is None
