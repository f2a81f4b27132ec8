"""The operator on the test cluster's real node: per-generation overhead, wall times and
worker start-up.

Overhead per generation: from the last worker container of one batch's Job exiting to
the first worker container of the next batch's Job starting, from containerd's task
events; negative when the next batch's pods were started ahead, while the batch before
ran. Idle per generation: from that exit to the next batch's first evaluation, which each
worker logs: the time no shard evaluates. Between generations: from the moment the last
shard result of a batch was stored (which each worker logs too) to the next batch's first
evaluation, which no pod's exit time affects. Wall times: the NSGA-II example, from
``kubectl apply`` to phase Succeeded, in ``single`` and in ``distributed`` mode, next to
``stratopt run`` on the same spec. Worker start-up: from a shard container's start to
its worker being ready to evaluate (at its first evaluation, or waiting for its input).

The cluster is the test suite's (``tests/cluster``): build it first (``make cluster
images``) and run as root. Run: ``python benchmarks/operator_overhead.py
[--population 100] [--generations 10] [--interval 1]``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import kopf
import yaml
from kopf.testing import KopfRunner
from kubernetes import client, config

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.cluster.controlplane import ControlPlane  # noqa: E402
from tests.cluster.leftovers import CACHE  # noqa: E402
from tests.cluster.netns import NetworkNamespace  # noqa: E402
from tests.cluster.node import Node  # noqa: E402


def kubectl(plane: ControlPlane, *args: str, stdin: str | None = None) -> str:
    done = subprocess.run(
        [str(plane.bin / "kubectl"), f"--kubeconfig={plane.kubeconfig}", *args],
        input=stdin,
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout


def example(name: str, mode: str, population: int, generations: int) -> dict[str, Any]:
    document = yaml.safe_load((ROOT / "examples" / "optimization-genetic.yaml").read_text())
    document["metadata"]["name"] = name
    document["spec"]["algorithm"]["nsga2"] = {
        "populationSize": population,
        "generations": generations,
    }
    # Two cores here: two pods of half a generation each.
    document["spec"]["execution"] = {
        "mode": mode,
        "shardSize": (population + 1) // 2,
        "parallelism": 2,
    }
    return document


def run_on_cluster(
    plane: ControlPlane, api: client.ApiClient, namespace: str, document: dict[str, Any]
) -> float:
    """Seconds from ``kubectl apply`` to phase Succeeded."""
    custom = client.CustomObjectsApi(api)
    name = document["metadata"]["name"]
    started = time.perf_counter()
    kubectl(plane, "apply", "-n", namespace, "-f", "-", stdin=json.dumps(document))
    while True:
        body = custom.get_namespaced_custom_object(
            "stratopt.io", "v1alpha1", namespace, "optimizationruns", name
        )
        phase = (body.get("status") or {}).get("phase")
        if phase in ("Succeeded", "Failed"):
            break
        time.sleep(0.1)
    elapsed = time.perf_counter() - started
    if phase != "Succeeded":
        raise SystemExit(f"{name} failed: {body['status']}")
    return elapsed


def overheads(timeline: list[tuple[float, str, str]], run: str) -> list[float]:
    """Per batch boundary: first start of batch k+1 minus last end of batch k."""
    spans: dict[int, tuple[float, float]] = {}
    for moment, what, pod in timeline:
        batch = batch_of(pod, run)
        if batch is None:
            continue
        first, last = spans.get(batch, (float("inf"), 0.0))
        spans[batch] = (min(first, moment) if what == "start" else first, max(last, moment))
    batches = sorted(spans)
    return [spans[b + 1][0] - spans[b][1] for b in batches[:-1] if b + 1 in spans]


def worker_marks(
    api: client.ApiClient, namespace: str, timeline: list[tuple[float, str, str]]
) -> dict[str, dict[str, float]]:
    """Per shard pod: when its container started and what its worker logged (the
    moments it began ``waiting`` for its input, if it was started ahead of its batch, and
    made its ``first-evaluation``)."""
    core = client.CoreV1Api(api)
    found: dict[str, dict[str, float]] = {}
    for moment, what, pod in timeline:
        if what != "start" or "-b" not in pod:
            continue
        log = core.read_namespaced_pod_log(pod, namespace)
        marks = [json.loads(line) for line in log.splitlines() if line.startswith("{")]
        found[pod] = {"start": moment, **{m["event"]: m["at"] for m in marks if "event" in m}}
        ready = [m for m in marks if m.get("event") in ("waiting", "first-evaluation")]
        if ready and "cpu" in ready[0]:
            found[pod]["cpu"] = ready[0]["cpu"]
    return found


def start_up_delays(marks: dict[str, dict[str, float]], run: str) -> dict[bool, list[float]]:
    """Per shard pod: from its container's start to its worker being ready to evaluate
    (waiting for its input, or at its first evaluation); under True the pods of the first
    batch, which start on a node where nothing else evaluates or starts but each other,
    under False the pods started ahead while the batches before them run."""
    delays: dict[bool, list[float]] = {True: [], False: []}
    for pod, mark in marks.items():
        at = mark.get("waiting", mark.get("first-evaluation"))
        batch = batch_of(pod, run)
        if at is not None and batch is not None:
            delays[batch == 0].append(at - mark["start"])
    return delays


def per_batch(
    marks: dict[str, dict[str, float]], run: str, event: str, pick: Callable[..., float]
) -> dict[int, float]:
    """Per batch: the ``pick`` (min or max) of the moments its pods logged ``event``."""
    found: dict[int, float] = {}
    for pod, mark in marks.items():
        batch = batch_of(pod, run)
        if batch is not None and event in mark:
            found[batch] = pick(found.get(batch, mark[event]), mark[event])
    return found


def idle_gaps(
    timeline: list[tuple[float, str, str]], marks: dict[str, dict[str, float]], run: str
) -> list[float]:
    """Per batch boundary: the first evaluation of batch k+1 minus the end of the last
    pod of batch k, the time no shard evaluates."""
    ends: dict[int, float] = {}
    for moment, what, pod in timeline:
        batch = batch_of(pod, run)
        if batch is not None and what == "end":
            ends[batch] = max(ends.get(batch, 0.0), moment)
    firsts = per_batch(marks, run, "first-evaluation", min)
    return [firsts[b + 1] - ends[b] for b in sorted(ends) if b + 1 in firsts]


def result_gaps(marks: dict[str, dict[str, float]], run: str) -> list[float]:
    """Per batch boundary: the first evaluation of batch k+1 minus the moment the last
    shard result of batch k was stored: what the operator and the pods waiting for their
    inputs add between two generations, whatever a pod takes to exit."""
    stored = per_batch(marks, run, "stored", max)
    firsts = per_batch(marks, run, "first-evaluation", min)
    return [firsts[b + 1] - stored[b] for b in sorted(stored) if b + 1 in firsts]


def batch_of(pod: str, run: str) -> int | None:
    job = pod.rsplit("-", 2)[0]  # an Indexed Job's pod: <job>-<index>-<suffix>
    if not job.startswith(f"{run}-") or "-b" not in job:
        return None
    return int(job.rsplit("-b", 1)[1])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--population", type=int, default=100)
    parser.add_argument("--generations", type=int, default=10)
    parser.add_argument(
        "--interval", type=float, default=1.0, help="resync interval of unfinished runs (s)"
    )
    args = parser.parse_args()
    os.environ["STRATOPT_RESYNC_INTERVAL"] = str(args.interval)
    os.environ["STRATOPT_METRICS_PORT"] = "0"

    images = json.loads(
        Path(
            subprocess.run(
                ["bash", str(ROOT / "hack" / "build-images.sh")],
                capture_output=True,
                text=True,
                check=True,
            ).stdout.split()[-1]
        ).read_text()
    )
    os.environ.update(
        STRATOPT_IMAGE=images["worker"],
        STRATOPT_IMAGE_PULL_POLICY="Never",
        STRATOPT_CPU_REQUEST="100m",
        STRATOPT_MEMORY_REQUEST="256Mi",
    )
    with tempfile.TemporaryDirectory() as work:
        netns = NetworkNamespace(f"stratopt-bench-{os.getpid()}")
        plane = ControlPlane(Path(work) / "plane", netns)
        node = Node(
            netns,
            plane.bin,
            Path(tempfile.mkdtemp(prefix="stratopt-node-", dir="/tmp")),
            CACHE / "containerd",
            plane.inner_kubeconfig,
            images,
        )
        try:
            netns.create()
            plane.start()
            os.environ["KUBECONFIG"] = str(plane.kubeconfig)
            api = config.new_client_from_config(str(plane.kubeconfig))
            node.start(api)
            for crd in sorted((ROOT / "crds").glob("*.yaml")):
                kubectl(plane, "apply", "-f", str(crd))
            kubectl(plane, "wait", "--for=condition=Established", "crd", "--all")
            kubectl(plane, "create", "namespace", "bench")
            time.sleep(2)  # the default ServiceAccount
            settings = kopf.OperatorSettings()
            settings.watching.server_timeout = 10
            arguments = ["run", "--standalone", "-n", "bench", "-m", "stratopt.operator.handlers"]
            with (
                KopfRunner(arguments, settings=settings, timeout=60),
                node.container_timeline() as timeline,
            ):
                size = (args.population, args.generations)
                single = run_on_cluster(plane, api, "bench", example("single", "single", *size))
                distributed = run_on_cluster(
                    plane, api, "bench", example("distributed", "distributed", *size)
                )
                marks = worker_marks(api, "bench", timeline)
        finally:
            node.stop()
            shutil.rmtree(node.run, ignore_errors=True)
            plane.stop()
            netns.destroy()

    started = time.perf_counter()
    local = example("local", "single", args.population, args.generations)
    with tempfile.NamedTemporaryFile("w", suffix=".yaml") as file:
        yaml.safe_dump(local, file)
        subprocess.run(
            [sys.executable, "-m", "stratopt.cli", "run", file.name, "-o", "json"],
            check=True,
            capture_output=True,
        )
    local_seconds = time.perf_counter() - started

    gaps = overheads(timeline, "distributed")
    idle = idle_gaps(timeline, marks, "distributed")
    after_results = result_gaps(marks, "distributed")
    delays = start_up_delays(marks, "distributed")
    print(
        f"NSGA-II example, population {args.population} × {args.generations} generations, "
        f"resync interval {args.interval} s"
    )
    print(f"  stratopt run (local)   {local_seconds:7.1f} s")
    for mode, seconds in (("single", single), ("distributed", distributed)):
        print(f"  cluster, {mode:<13} {seconds:7.1f} s   ({seconds / local_seconds:.1f}× local)")
    print(
        f"  overhead per generation (last pod of batch k ends → first pod of k+1 starts), "
        f"{len(gaps)} boundaries: median {statistics.median(gaps):.2f} s, "
        f"max {max(gaps):.2f} s, mean {statistics.mean(gaps):.2f} s (target < 2 s)"
    )
    print(
        f"  idle per generation (last pod of batch k ends → first evaluation of k+1), "
        f"{len(idle)} boundaries: median {statistics.median(idle):.2f} s, "
        f"max {max(idle):.2f} s, mean {statistics.mean(idle):.2f} s"
    )
    print(
        f"  between generations (last result of batch k stored → first evaluation of k+1), "
        f"{len(after_results)} boundaries: median {statistics.median(after_results):.2f} s, "
        f"max {max(after_results):.2f} s, mean {statistics.mean(after_results):.2f} s"
    )
    print("    each: " + ", ".join(f"{gap:.2f}" for gap in after_results))
    cpu = [m["cpu"] for m in marks.values() if "cpu" in m]
    if cpu:
        print(
            f"  worker CPU time from process start to ready to evaluate, {len(cpu)} shard "
            f"pods: median {statistics.median(cpu):.2f} s, max {max(cpu):.2f} s"
        )
    for first, label in ((True, "the first batch's"), (False, "started ahead")):
        if delays[first]:
            print(
                f"  worker container start → ready to evaluate, {len(delays[first])} shard "
                f"pods ({label}): median {statistics.median(delays[first]):.2f} s, "
                f"max {max(delays[first]):.2f} s (target < 2 s)"
            )


if __name__ == "__main__":
    main()
