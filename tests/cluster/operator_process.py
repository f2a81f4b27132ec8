"""``stratopt operator`` as users run it: a process of its own, logging JSON, logged in
as the chart's operator ServiceAccount."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.cluster.leftovers import Ledger
from tests.cluster.waiting import wait_for


@dataclass
class OperatorProcess:
    process: subprocess.Popen[bytes]
    log: Path

    def records(self) -> list[dict[str, Any]]:
        """The JSON log records written so far."""
        found = []
        for line in self.log.read_text().splitlines():
            with contextlib.suppress(ValueError):
                found.append(json.loads(line))
        return found

    def peak_rss(self) -> int:
        """The process's peak resident memory so far, in bytes."""
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
        raise AssertionError("no VmHWM in /proc status")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)


@contextlib.contextmanager
def operator_process(
    namespace: str,
    credentials: Path,
    ledger: Ledger,
    workdir: Path,
    *arguments: str,
    log: str = "operator.log",
    **variables: str,
) -> Iterator[OperatorProcess]:
    """``stratopt operator -n NAMESPACE --log-format json [ARGUMENTS]``, logged in as the
    chart's operator ServiceAccount, with more ``STRATOPT_*`` ``variables``; stopped by its
    PID afterwards."""
    path = workdir / log
    environment = {
        **os.environ,
        "KUBECONFIG": str(credentials),
        "STRATOPT_METRICS_PORT": "0",
        "STRATOPT_RESYNC_INTERVAL": "0.5",
        **variables,
    }
    with path.open("wb") as sink:
        process = subprocess.Popen(
            [
                str(Path(sys.executable).with_name("stratopt")),
                "operator",
                "-n",
                namespace,
                "--log-format",
                "json",
                *arguments,
            ],
            stdout=sink,
            stderr=subprocess.STDOUT,
            env=environment,
        )
    ledger.process(process.pid)
    running = OperatorProcess(process, path)
    try:
        wait_for(
            lambda: any("operator started" in r.get("message", "") for r in running.records()),
            "the operator to start",
        )
        yield running
    finally:
        running.stop()
