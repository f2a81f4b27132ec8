"""A soak: a stream of runs on the test cluster while the faults of the fault matrix
(``tests/cluster/test_faults.py``) hit it at random times, each run then compared with
its undisturbed twin (the same spec run here, without a cluster).

Runs of three shapes take turns, each with a seed of its own: a single-mode NSGA-II, a
distributed NSGA-II and a distributed Bayesian search with two points a batch. One is
applied every DURATION / RUNS seconds, while fewer than ``--concurrent`` are unfinished.
Between faults the cluster gets a random 60 to 180 s; the faults are real, as in the
matrix: the API server, etcd or both stopped by PID for 30 s; the kubelet and containerd
restarted; the operator SIGKILLed and started again; a worker pod evicted through the
API; a worker OOM-killed by its memory limit; a stored shard result deleted.

Once every run has finished they are deleted; what is left of them after the garbage
collector has had a minute (Jobs, pods, ConfigMaps) and every Job left unfinished before
that count as left behind. The cluster is the test suite's, started by its own fixtures;
build it first (``make cluster images``) and run as root:
``python benchmarks/fault_soak.py [--runs 100] [--minutes 60] [--seed 1]``. The last
line is:

``soak: R runs, S identical to their undisturbed twin, D different, F failed, L left behind``
"""

from __future__ import annotations

import argparse
import concurrent.futures
import contextlib
import copy
import os
import random
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

TERMINAL = ("Succeeded", "Failed")


def soak_run(index: int) -> dict[str, Any]:
    """Run ``index`` of the stream: the three shapes in turn, each with its own seed."""
    from tests.cluster.test_operator import distributed_example
    from tests.test_examples import reduced

    shape = ("single", "nsga2", "bayesian")[index % 3]
    if shape == "bayesian":
        document = reduced("optimization-bayesian")
        document["spec"]["algorithm"]["bayesian"].update(iterations=6, initialPoints=4, batchSize=2)
        document["spec"]["execution"] = {"mode": "distributed", "shardSize": 1, "parallelism": 2}
    else:
        document = distributed_example("x")
        if shape == "single":
            document["spec"]["algorithm"]["nsga2"] = {"populationSize": 24, "generations": 6}
            document["spec"]["execution"] = {"mode": "single"}
    document["metadata"] = {"name": f"soak-{index:03d}-{shape}"}
    document["spec"]["seed"] = index
    return document


def twin_status(document: dict[str, Any]) -> dict[str, Any]:
    from tests.cluster.test_operator import _local_status

    return _local_status(document)


def identical(status: dict[str, Any], twin: dict[str, Any]) -> bool:
    from tests.cluster.test_operator import _assert_same_result

    try:
        _assert_same_result(status, twin)
    except (AssertionError, KeyError):
        return False
    return True


class Faults:
    """The matrix's faults, each injected on demand into whatever is under way."""

    def __init__(self, context: dict[str, Any], chance: random.Random) -> None:
        self.context, self.chance = context, chance

    def names(self) -> list[str]:
        return sorted(self.by_name())

    def by_name(self) -> dict[str, Callable[[], str]]:
        from tests.cluster.test_faults import node_restarts, stop_for

        c = self.context
        return {
            "api-server-down-30s": lambda: (
                stop_for(c["plane"], c["ledger"], "kube-apiserver") or ""
            ),
            "etcd-restarted": lambda: stop_for(c["plane"], c["ledger"], "etcd") or "",
            "api-server-and-etcd-down-30s": lambda: (
                stop_for(c["plane"], c["ledger"], "kube-apiserver", "etcd") or ""
            ),
            "kubelet-and-containerd-restarted": lambda: node_restarts(c["node"], c["ledger"]) or "",
            "operator-killed": self.kill_operator,
            "worker-oom-killed": self.oom_kill_worker,
            "worker-evicted": self.evict_worker,
            "result-deleted": self.delete_result,
        }

    def inject(self) -> str:
        name = self.chance.choice(self.names())
        try:
            detail = self.by_name()[name]()
        except Exception as exc:  # its target ended meanwhile: the soak goes on
            detail = f"(not injected: {type(exc).__name__}: {exc})"
        return f"{name} {detail}".strip()

    def kill_operator(self) -> str:
        from tests.cluster.test_faults import replace_operator

        operators = self.context["operators"]
        killed = operators[-1].process.pid
        replace_operator(self.context, f"operator-{len(operators) + 1}.log")
        return f"(pid {killed})"

    def evict_worker(self) -> str:
        from tests.cluster.test_faults import evict, running_workers

        c = self.context
        running = running_workers(c["api"], c["namespace"], "stratopt.io/run")
        if not running:
            return "(no pod running)"
        name = self.chance.choice(running).metadata.name
        evict(c["api"], c["namespace"], name)
        return name

    def oom_kill_worker(self) -> str:
        """A running worker's memory limit lowered under its needs: the kernel kills it."""
        from tests.cluster.test_faults import oom_kill, workers_at_work

        c = self.context
        running = workers_at_work(c["api"], c["namespace"], "stratopt.io/run")
        if not running:
            return "(no pod running)"
        pod = self.chance.choice(running)
        oom_kill(c["node"], pod)
        return str(pod.metadata.name)

    def delete_result(self) -> str:
        """A stored shard result of a run still under way (its batch runs again)."""
        import re

        from kubernetes import client

        c = self.context
        core = client.CoreV1Api(c["api"])
        unfinished = set(c["unfinished"]())
        results = [
            item.metadata.name
            for item in core.list_namespaced_config_map(c["namespace"]).items
            if re.search(r"-b\d+-s\d+$", item.metadata.name)
            and (item.metadata.labels or {}).get("stratopt.io/run") in unfinished
        ]
        if not results:
            return "(no shard result of a run under way)"
        name = self.chance.choice(results)
        core.delete_namespaced_config_map(name, c["namespace"])
        return name


def left_behind(api: Any, namespace: str) -> list[str]:
    """The Jobs, pods and ConfigMaps of the namespace (its CA bundle aside)."""
    from kubernetes import client

    core, batch = client.CoreV1Api(api), client.BatchV1Api(api)
    found = [f"job/{j.metadata.name}" for j in batch.list_namespaced_job(namespace).items]
    found += [f"pod/{p.metadata.name}" for p in core.list_namespaced_pod(namespace).items]
    found += [
        f"configmap/{m.metadata.name}"
        for m in core.list_namespaced_config_map(namespace).items
        if m.metadata.name != "kube-root-ca.crt"
    ]
    return found


def test_soak(
    control_plane: Any,
    api: Any,
    namespace: str,
    operator_kubeconfig: Path,
    node: Any,
    ledger: Any,
    workdir: Path,
) -> None:
    from kubernetes import client

    from tests.cluster.conftest import apply
    from tests.cluster.operator_process import operator_process
    from tests.cluster.test_faults import fault_context, unfinished_jobs

    count, seconds = int(os.environ["SOAK_RUNS"]), float(os.environ["SOAK_SECONDS"])
    concurrent_runs = int(os.environ["SOAK_CONCURRENT"])
    chance = random.Random(int(os.environ["SOAK_SEED"]))
    documents = [soak_run(i) for i in range(count)]
    custom = client.CustomObjectsApi(api)

    def phases() -> dict[str, str | None]:
        listed = custom.list_namespaced_custom_object(
            "stratopt.io", "v1alpha1", namespace, "optimizationruns"
        )["items"]
        return {i["metadata"]["name"]: (i.get("status") or {}).get("phase") for i in listed}

    def unfinished() -> list[str]:
        return [name for name, phase in phases().items() if phase not in TERMINAL]

    # The twins are computed here while the cluster works, one process beside it.
    with (
        concurrent.futures.ProcessPoolExecutor(1) as pool,
        contextlib.ExitStack() as stack,
    ):
        twins = {
            d["metadata"]["name"]: pool.submit(twin_status, copy.deepcopy(d)) for d in documents
        }
        first = stack.enter_context(
            operator_process(namespace, operator_kubeconfig, ledger, workdir)
        )
        context = {
            **fault_context(
                control_plane,
                node,
                ledger,
                api,
                namespace,
                operator_kubeconfig,
                workdir,
                first,
                stack,
            ),
            "unfinished": unfinished,
        }
        faults = Faults(context, chance)
        started = time.monotonic()
        interval = seconds / count
        applied, injected = 0, []
        next_fault = started + chance.uniform(60, 180)
        while True:
            now = time.monotonic()
            under_way = unfinished() if applied else []
            if applied == count and not under_way:
                break
            if now - started > seconds * 2 + 1800:
                print(f"gave up waiting for {len(under_way)} runs: {under_way}")
                break
            due = started + applied * interval
            if applied < count and now >= due and len(under_way) < concurrent_runs:
                apply(control_plane, namespace, documents[applied])
                applied += 1
            if applied and now >= next_fault and under_way:
                at = now - started
                what = faults.inject()
                injected.append(what)
                print(f"{at:7.0f} s, runs under way: {len(under_way)}, fault: {what}", flush=True)
                next_fault = time.monotonic() + chance.uniform(60, 180)
            time.sleep(2)
        elapsed = time.monotonic() - started
        final = {
            i["metadata"]["name"]: i.get("status") or {}
            for i in custom.list_namespaced_custom_object(
                "stratopt.io", "v1alpha1", namespace, "optimizationruns"
            )["items"]
        }

        def still_running() -> list[str]:
            return [
                f"job/{j.metadata.name} (unfinished)"
                for j in unfinished_jobs(api, namespace)
                if not j.status.failed
            ]

        # A run reports its stored result at once; its last Job completes a moment later.
        deadline = time.monotonic() + 60
        while still_running() and time.monotonic() < deadline:
            time.sleep(2)
        unfinished = still_running()
        same, different, failed = 0, [], []
        for name, future in twins.items():
            status = final.get(name, {})
            if status.get("phase") != "Succeeded":
                failed.append(f"{name}: {status.get('phase')} {status.get('conditions')}")
            elif identical(status, future.result()):
                same += 1
            else:
                different.append(name)
    for document in documents:
        with contextlib.suppress(client.ApiException):
            custom.delete_namespaced_custom_object(
                "stratopt.io",
                "v1alpha1",
                namespace,
                "optimizationruns",
                document["metadata"]["name"],
            )
    time.sleep(60)
    left = unfinished + left_behind(api, namespace)
    print()
    print(f"{count} runs over {elapsed / 60:.0f} min, {len(injected)} faults injected:")
    for what in sorted(set(f.split()[0] for f in injected)):
        print(f"  {what}: {sum(f.split()[0] == what for f in injected)}")
    for line in failed + [f"{name}: differs from its twin" for name in different] + left:
        print(f"  {line}")
    print(
        f"soak: {count} runs, {same} identical to their undisturbed twin, {len(different)} "
        f"different, {len(failed)} failed, {len(left)} left behind"
    )


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=100)
    parser.add_argument("--minutes", type=float, default=60.0, help="time to apply them over")
    parser.add_argument("--concurrent", type=int, default=6, help="most runs unfinished at once")
    parser.add_argument("--seed", type=int, default=1, help="of the fault schedule")
    args = parser.parse_args()
    os.environ.update(
        SOAK_RUNS=str(args.runs),
        SOAK_SECONDS=str(args.minutes * 60),
        SOAK_CONCURRENT=str(args.concurrent),
        SOAK_SEED=str(args.seed),
    )
    return pytest.main(
        [__file__, "-p", "tests.cluster.conftest", "-q", "-s", "-p", "no:cacheprovider"]
    )


if __name__ == "__main__":
    sys.exit(main())
