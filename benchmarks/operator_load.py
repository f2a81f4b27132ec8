"""The operator under load on the test cluster's real node: many concurrent runs, then
idle with every finished run still present.

N OptimizationRuns of small budgets (every fifth distributed, the rest single) are
applied at once to one ``stratopt operator`` process, logged in as the chart's
ServiceAccount. Measured:

- how many succeed, and the seconds from the apply to all finished;
- the operator's peak RSS (``VmHWM``) and its CPU time while idle (``/proc/PID/stat``);
- its API requests while idle, per minute. ``apiserver_request_total`` has no label
  for the client, so the operator's own requests are counted from the API server's audit
  log (one entry per request of the operator's ServiceAccount, which nothing else uses);
  the metric's cluster-wide rate, with the operator running and after it stopped, is
  printed beside it;
- the per-generation overhead of the distributed runs, from containerd's task events
  (under load it includes waiting for the node's two cores).

The cluster is the test suite's, started by its own fixtures (``tests/cluster``); build
it first (``make cluster images``) and run as root:
``python benchmarks/operator_load.py [--runs 50] [--idle 60]``. The last line is:

``load: N runs, S succeeded, F failed, T s to all finished, operator peak RSS M MiB,
idle CPU P% of a core, idle API requests R per minute``
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.cluster import controlplane  # noqa: E402
from tests.cluster.operator_process import operator_process  # noqa: E402
from tests.cluster.waiting import wait_for  # noqa: E402

# The chart's operator ServiceAccount, as tests.cluster.conftest (loaded by pytest as a
# plugin, so not imported here) logs the operator in.
OPERATOR_USER = "system:serviceaccount:stratopt-system:stratopt-operator"
# Audit every request of the operator's account too; the harness's own rules stay first.
controlplane.AUDIT_POLICY["rules"].insert(-1, {"level": "Metadata", "users": [OPERATOR_USER]})
TERMINAL = ("Succeeded", "Failed")
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def small_run(index: int) -> dict[str, Any]:
    """A run of a small budget: every fifth a distributed NSGA-II of three generations
    in two shards each, the others a single-pod random search."""
    document = yaml.safe_load((ROOT / "examples" / "optimization-genetic.yaml").read_text())
    document["metadata"] = {"name": f"load-{index:03d}"}
    spec = document["spec"]
    spec["seed"] = index
    spec["backtest"]["data"]["source"] = f"synthetic:gbm?bars=3000&freq=1h&seed={index}"
    if index % 5 == 0:
        spec["algorithm"] = {"name": "nsga2", "nsga2": {"populationSize": 8, "generations": 3}}
        spec["execution"] = {"mode": "distributed", "shardSize": 4, "parallelism": 2}
    else:
        spec["algorithm"] = {"name": "random", "random": {"samples": 20}}
        spec["execution"] = {"mode": "single"}
    return document


def cpu_seconds(pid: int) -> float:
    """User and system CPU time of process ``pid`` so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def requests_total(plane: controlplane.ControlPlane) -> float:
    """The sum of ``apiserver_request_total`` over every label."""
    from tests.cluster.conftest import kubectl

    done = kubectl(plane, "get", "--raw", "/metrics")
    return sum(
        float(line.rsplit(" ", 1)[1])
        for line in done.stdout.splitlines()
        if line.startswith("apiserver_request_total{")
    )


def operator_requests(plane: controlplane.ControlPlane) -> int:
    """Requests of the operator's account so far, one audit ID each."""
    return len(
        {
            entry["auditID"]
            for entry in plane.audited()
            if entry.get("user", {}).get("username") == OPERATOR_USER
        }
    )


def generation_gaps(timeline: list[tuple[float, str, str]], runs: list[str]) -> list[float]:
    from benchmarks.operator_overhead import overheads

    return [gap for run in runs for gap in overheads(timeline, run)]


def test_operator_under_load(
    control_plane: Any,
    api: Any,
    namespace: str,
    operator_kubeconfig: Path,
    node: Any,
    ledger: Any,
    workdir: Path,
) -> None:
    from kubernetes import client

    from tests.cluster.conftest import OPERATOR_ACCOUNT, OPERATOR_NAMESPACE, kubectl

    assert f"system:serviceaccount:{OPERATOR_NAMESPACE}:{OPERATOR_ACCOUNT}" == OPERATOR_USER
    count, idle = int(os.environ["LOAD_RUNS"]), float(os.environ["LOAD_IDLE_SECONDS"])
    documents = [small_run(i) for i in range(count)]
    custom = client.CustomObjectsApi(api)

    def phases() -> dict[str, str | None]:
        listed = custom.list_namespaced_custom_object(
            "stratopt.io", "v1alpha1", namespace, "optimizationruns"
        )["items"]
        return {i["metadata"]["name"]: (i.get("status") or {}).get("phase") for i in listed}

    with (
        operator_process(
            namespace, operator_kubeconfig, ledger, workdir, STRATOPT_RESYNC_INTERVAL="10"
        ) as operator,
        node.container_timeline() as timeline,
    ):
        started = time.monotonic()
        listing = {"apiVersion": "v1", "kind": "List", "items": documents}
        kubectl(control_plane, "apply", "-n", namespace, "-f", "-", stdin=json.dumps(listing))
        wait_for(
            lambda: sum(p in TERMINAL for p in phases().values()) == count,
            f"{count} runs to finish",
            timeout=1800,
        )
        finished = time.monotonic() - started
        during = operator_requests(control_plane)
        # The audit log must see the operator, or an idle count of 0 would prove nothing.
        assert during > count, f"the audit log holds {during} requests of {OPERATOR_USER}"
        time.sleep(10)  # the last status writes and their watch events
        cpu, audited, total = (
            cpu_seconds(operator.process.pid),
            operator_requests(control_plane),
            requests_total(control_plane),
        )
        time.sleep(idle)
        idle_cpu = (cpu_seconds(operator.process.pid) - cpu) / idle
        idle_requests = (operator_requests(control_plane) - audited) * 60 / idle
        with_operator = (requests_total(control_plane) - total) * 60 / idle
        peak = operator.peak_rss() / 2**20
    total = requests_total(control_plane)
    time.sleep(idle)
    without_operator = (requests_total(control_plane) - total) * 60 / idle

    final = phases()
    succeeded = sum(phase == "Succeeded" for phase in final.values())
    failed = sum(phase == "Failed" for phase in final.values())
    distributed = [
        d["metadata"]["name"] for d in documents if d["spec"]["execution"]["mode"] == "distributed"
    ]
    gaps = generation_gaps(timeline, distributed)
    print()
    print(
        f"{count} runs ({len(distributed)} distributed), resync every 10 s, idle window {idle:g} s"
    )
    if gaps:
        print(
            f"  per-generation overhead under load, {len(gaps)} boundaries: "
            f"median {statistics.median(gaps):.2f} s, max {max(gaps):.2f} s"
        )
    print(f"  operator API requests from the apply to all finished: {during}")
    print(
        f"  apiserver_request_total, whole cluster, idle: {with_operator:.1f} per minute with "
        f"the operator, {without_operator:.1f} after it stopped"
    )
    print(
        f"load: {count} runs, {succeeded} succeeded, {failed} failed, {finished:.0f} s to all "
        f"finished, operator peak RSS {peak:.0f} MiB, idle CPU {idle_cpu * 100:.2f}% of a "
        f"core, idle API requests {idle_requests:.1f} per minute"
    )


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=50)
    parser.add_argument("--idle", type=float, default=60.0, help="idle window (s)")
    args = parser.parse_args()
    os.environ.update(LOAD_RUNS=str(args.runs), LOAD_IDLE_SECONDS=str(args.idle))
    return pytest.main(
        [__file__, "-p", "tests.cluster.conftest", "-q", "-s", "-p", "no:cacheprovider"]
    )


if __name__ == "__main__":
    sys.exit(main())
