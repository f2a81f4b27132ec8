"""High availability: two operators share the chart's kopf peering object, one works and
the other waits; killed mid-run, the working one's run is finished by the other with the
status a single operator gives."""

from __future__ import annotations

import os
import signal
from pathlib import Path

from kubernetes import client

from tests.cluster.conftest import apply, kubectl, render_chart
from tests.cluster.controlplane import ROOT, ControlPlane
from tests.cluster.leftovers import Ledger
from tests.cluster.node import Node
from tests.cluster.operator_process import OperatorProcess, operator_process
from tests.cluster.test_operator import (
    _assert_one_job_per_batch,
    _assert_same_result,
    _local_status,
    batch_jobs,
    distributed_example,
    finished,
)
from tests.cluster.waiting import wait_for

PEERING = "stratopt"
#: Seconds a peer's entry lives unrenewed: how long the waiting operator waits at most.
LIFETIME = "10"
RESUMED = "Resuming operations after the pause"


def _logged(process: OperatorProcess, text: str) -> bool:
    return any(text in str(record.get("message", "")) for record in process.records())


def test_the_waiting_operator_finishes_the_run_of_a_killed_one(
    api: client.ApiClient,
    control_plane: ControlPlane,
    namespace: str,
    operator_kubeconfig: Path,
    node: Node,
    ledger: Ledger,
    workdir: Path,
) -> None:
    kubectl(control_plane, "apply", "-f", str(ROOT / "crds" / "kopf"))
    kubectl(
        control_plane,
        "wait",
        "--for=condition=Established",
        "crd/kopfpeerings.kopf.dev",
        "--timeout=60s",
    )
    (peering,) = [
        document
        for document in render_chart(
            control_plane, f"peering={PEERING}", f"watchNamespaces={{{namespace}}}"
        )
        if document["kind"] == "KopfPeering"
    ]
    assert peering["metadata"]["namespace"] == namespace
    apply(control_plane, namespace, peering)
    peered = ("--peering", PEERING)
    with (
        operator_process(
            namespace,
            operator_kubeconfig,
            ledger,
            workdir,
            *peered,
            log="first.log",
            STRATOPT_PEERING_PRIORITY="200",
            STRATOPT_PEERING_LIFETIME=LIFETIME,
        ) as first,
        operator_process(
            namespace,
            operator_kubeconfig,
            ledger,
            workdir,
            *peered,
            log="second.log",
            STRATOPT_PEERING_PRIORITY="100",
            STRATOPT_PEERING_LIFETIME=LIFETIME,
        ) as second,
    ):
        # kopf starts paused until it has seen its peers: only the higher resumes.
        wait_for(lambda: _logged(first, RESUMED), "the first operator to resume")
        document = distributed_example("rsi-ha")
        apply(control_plane, namespace, document)
        wait_for(lambda: batch_jobs(api, namespace, 1), "the second generation's Job", 120)
        assert _logged(first, "BatchStarted") and not _logged(second, "BatchStarted")
        assert not _logged(second, RESUMED), "both operators work"
        os.kill(first.process.pid, signal.SIGKILL)
        first.process.wait(timeout=30)
        status = finished(api, namespace, "optimizationruns", "rsi-ha")["status"]
        assert _logged(second, RESUMED)
        assert _logged(second, "BatchStarted"), "the second operator did no work"
    assert status["phase"] == "Succeeded", status
    _assert_same_result(status, _local_status(document))
    _assert_one_job_per_batch(control_plane, api, namespace, "rsi-ha")
