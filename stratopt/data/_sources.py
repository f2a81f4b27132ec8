"""Which data sources a spec may name, and reading them within bounds.

Locally every scheme works as documented: whoever runs ``stratopt`` reads what they can
read anyway. On a cluster, whoever may create a run would otherwise get a worker pod to
read what the spec names (its ServiceAccount token, the environment, a cloud metadata
address, the cluster's own services) and read back the error. So the operator gives its
worker pods a policy in their environment (the chart's ``dataSources`` values):

* ``STRATOPT_DATA_SCHEMES``: the URL schemes allowed, comma-separated (``s3,gs,https``);
  a local file is the scheme ``file``.
* ``STRATOPT_DATA_HOSTS``: for network schemes, the hosts (``data.example.com``), host
  suffixes (``.example.com``) or URL prefixes (``s3://bucket/bars/``) allowed; empty
  allows any public host. Hosts that resolve to loopback, link-local (cloud metadata),
  private or other non-public addresses (the cluster's service and pod ranges) are
  refused whatever this says, and so is every redirect to them.
* ``STRATOPT_DATA_PATHS``: folders local files may be read from (those the pods mount
  for data); symbolic links and ``..`` are resolved first.

Every read is bounded: ``STRATOPT_MAX_DATA_BYTES`` (2 GiB) of data after decompression,
and ``STRATOPT_READ_TIMEOUT`` (60 s) for each network operation. Devices, FIFOs and
other files that are not regular are refused: they never end or never start.
"""

from __future__ import annotations

import ipaddress
import os
import socket
import stat
import urllib.parse
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from typing import IO

from stratopt.errors import DataError

#: Bytes of data a source may yield once decompressed.
MAX_DATA_BYTES = 2 * 2**30
#: Seconds a network read may wait for each answer.
READ_TIMEOUT = 60.0
#: Redirects followed before giving up.
MAX_REDIRECTS = 5
#: Hosts that name a cluster's own services or a cloud's metadata, whatever they resolve to.
INTERNAL_HOSTS = ("localhost", "metadata", "metadata.google.internal", "kubernetes")
INTERNAL_SUFFIXES = (".localhost", ".local", ".internal", ".svc", ".cluster.local")
#: Schemes read over the network from a host named in the URL.
WEB_SCHEMES = ("http", "https", "ftp", "sftp", "ssh")


@dataclass(frozen=True)
class SourcePolicy:
    """What sources may be read; ``None`` allows everything of that kind."""

    schemes: tuple[str, ...] | None = None
    hosts: tuple[str, ...] = ()
    paths: tuple[str, ...] | None = None
    max_bytes: int = MAX_DATA_BYTES
    timeout: float = READ_TIMEOUT

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] | None = None) -> SourcePolicy:
        """The policy the environment sets: none of its variables, no restriction."""
        env = os.environ if environ is None else environ

        def listed(name: str) -> tuple[str, ...] | None:
            if name not in env:
                return None
            return tuple(item.strip() for item in env[name].split(",") if item.strip())

        return cls(
            schemes=listed("STRATOPT_DATA_SCHEMES"),
            hosts=listed("STRATOPT_DATA_HOSTS") or (),
            paths=listed("STRATOPT_DATA_PATHS"),
            max_bytes=int(env.get("STRATOPT_MAX_DATA_BYTES", MAX_DATA_BYTES)),
            timeout=float(env.get("STRATOPT_READ_TIMEOUT", READ_TIMEOUT)),
        )

    @property
    def restricted(self) -> bool:
        return self.schemes is not None or bool(self.hosts) or self.paths is not None

    def check(self, source: str, field: str) -> None:
        """Raise :class:`DataError` naming ``field`` and the setting to change when
        ``source`` is not allowed."""
        *links, last = source.split("::")  # an fsspec chain: every link must be allowed
        for link in links:
            self._check_scheme(link.partition("://")[0].lower(), field)
        self._check_one(last, field)

    def _check_one(self, source: str, field: str) -> None:
        scheme, _, rest = source.partition("://") if "://" in source else ("file", "", source)
        scheme = scheme.lower()
        self._check_scheme(scheme, field)
        if scheme == "file":
            self.check_path(rest, field)
            return
        if self.hosts and not any(_matches(source, allowed) for allowed in self.hosts):
            raise DataError(
                field,
                f"{_host(source) or source!r} is not among the hosts this cluster allows "
                "(the chart's dataSources.hosts)",
            )
        if scheme in WEB_SCHEMES and self.restricted:
            check_public_host(source, field)

    def _check_scheme(self, scheme: str, field: str) -> None:
        if self.schemes is not None and scheme not in self.schemes:
            raise DataError(
                field,
                f"the scheme {scheme!r} is not allowed on this cluster (allowed: "
                f"{', '.join(self.schemes) or 'none'}); ask its operator to add it to the "
                "chart's dataSources.schemes",
            )

    def check_path(self, path: str, field: str) -> None:
        if self.paths is None:
            return
        real = os.path.realpath(path)
        allowed = [os.path.realpath(p) for p in self.paths]
        if not any(
            real == folder or real.startswith(folder.rstrip("/") + "/") for folder in allowed
        ):
            raise DataError(
                field,
                "local files may be read only from "
                f"{', '.join(self.paths) or 'no folder'} on this cluster (the chart's "
                "dataSources.paths, where data volumes are mounted); use an object store URL",
            )


def _host(url: str) -> str:
    return (urllib.parse.urlsplit(url).hostname or "").lower()


def _matches(source: str, allowed: str) -> bool:
    if "://" in allowed:
        return source.startswith(allowed)
    host = _host(source)
    if allowed.startswith("."):
        return host.endswith(allowed.lower())
    return host == allowed.lower()


def check_public_host(url: str, field: str) -> None:
    """Refuse a URL whose host is internal by name, or resolves to an address that is not
    public (loopback, link-local, private, reserved)."""
    host = _host(url)
    refusal = DataError(
        field,
        "its host is not a public address (loopback, link-local metadata, or the "
        "cluster's own network): a run may read only public hosts and object stores",
    )
    if not host or host in INTERNAL_HOSTS or host.endswith(INTERNAL_SUFFIXES):
        raise refusal
    try:
        addresses = {info[4][0] for info in socket.getaddrinfo(host, None)}
    except (OSError, UnicodeError) as exc:
        raise DataError(field, f"cannot resolve the host {host!r}; check the URL") from exc
    for address in addresses:
        ip = ipaddress.ip_address(str(address).split("%")[0])
        if not ip.is_global:
            raise refusal


class _CheckedRedirects(urllib.request.HTTPRedirectHandler):
    """Follows a redirect only to a place the policy allows."""

    max_redirections = MAX_REDIRECTS

    def __init__(self, policy: SourcePolicy, field: str) -> None:
        self.policy, self.field = policy, field

    def redirect_request(self, req, fp, code, msg, headers, newurl):  # type: ignore[no-untyped-def]
        try:
            self.policy.check(newurl, self.field)
        except DataError as exc:
            raise DataError(
                self.field, f"redirected to a place not allowed: {exc.message}"
            ) from exc
        return super().redirect_request(req, fp, code, msg, headers, newurl)


def open_web(url: str, policy: SourcePolicy, field: str) -> IO[bytes]:
    """An HTTP(S) answer's body, every redirect checked against ``policy``, each network
    operation within its timeout."""
    opener = urllib.request.build_opener(_CheckedRedirects(policy, field))
    request = urllib.request.Request(url, headers={"User-Agent": "stratopt"})
    try:
        response: IO[bytes] = opener.open(request, timeout=policy.timeout)
    except DataError:
        raise
    except urllib.error.HTTPError as exc:
        raise DataError(field, f"{url} answered HTTP {exc.code}; check the URL") from exc
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        raise DataError(field, f"cannot fetch {url}: {reason}") from exc
    return response


def check_regular_file(path: str, field: str) -> None:
    """Refuse what is not a regular file: a device or FIFO would never end or start."""
    try:
        mode = os.stat(path).st_mode
    except (OSError, ValueError):
        return  # the reader says what is wrong (not found, no permission)
    if not stat.S_ISREG(mode):
        raise DataError(field, f"{path} is not a regular file; name a CSV or Parquet file")


def read_bounded(handle: IO[bytes], limit: int, field: str) -> bytes:
    """All of ``handle`` up to ``limit`` bytes; more is an error, not an endless read."""
    data = handle.read(limit + 1)
    if len(data) > limit:
        raise DataError(
            field,
            f"holds more than {limit:,} bytes (after decompression); use a smaller file, "
            "or raise STRATOPT_MAX_DATA_BYTES",
        )
    return data
