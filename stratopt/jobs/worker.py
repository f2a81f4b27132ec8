"""The worker: read a run from the API, execute it, write its status to a ConfigMap.

Inputs come from the API only (no mounted files), so the worker needs nothing but its
image and its ServiceAccount. Bad input exits with status 2 and one
line saying what to fix, which becomes the pod's termination message; the Job's
podFailurePolicy then fails the run at once instead of retrying.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

from stratopt.errors import InputError, StratoptError
from stratopt.jobs._cluster import ApiError, Cluster
from stratopt.runtime.execute import execute
from stratopt.runtime.protocol import (
    BAD_INPUT_EXIT_CODE,
    PLURALS,
    TERMINATION_LOG,
    WorkerFailure,
    failure_report,
    fold_result_name,
    owner_reference,
    plan_name,
    progress_name,
    result_labels,
    result_name,
    revision,
    run_selector,
    shard_input_name,
    shard_result_name,
)


def report_failure(failure: WorkerFailure) -> None:
    """Say why the worker failed: on stderr for `kubectl logs`, and in the termination
    log, which the operator reads."""
    print(f"{failure.reason}: {failure.message}", file=sys.stderr, flush=True)
    with contextlib.suppress(OSError):  # not in a pod
        Path(TERMINATION_LOG).write_text(failure_report(failure))


#: Least seconds between two progress reports of a single-mode search.
PROGRESS_SECONDS = 2.0


def resolve_analysis(cluster: Cluster, namespace: str, spec: dict[str, Any]) -> dict[str, Any]:
    """A ForecastRun spec whose ``fromFeatureAnalysis`` (the name of a FeatureAnalysis in
    the same namespace) is replaced by that analysis's topFeatures."""
    from stratopt.api.documents import FIELD, with_analysis_features
    from stratopt.errors import InputError

    name = spec.get("fromFeatureAnalysis")
    if not name:
        return spec
    try:
        analysis = cluster.resource("FeatureAnalysis", namespace, name)
    except ApiError as exc:
        if exc.status == 404:
            raise InputError(FIELD, f"no FeatureAnalysis {name!r} in {namespace}") from exc
        raise
    top = (analysis.get("status") or {}).get("topFeatures")
    if not top:
        raise InputError(FIELD, f"FeatureAnalysis {name!r} has no topFeatures")
    return with_analysis_features(spec, top)


class ProgressReport:
    """Writes a search's progress to its ConfigMap after a batch, at most every few
    seconds, for the operator to show in status while the pod works."""

    def __init__(self, cluster: Cluster, args: argparse.Namespace, owner: dict[str, Any]) -> None:
        self.cluster, self.args, self.owner = cluster, args, owner
        self.written = 0.0

    def __call__(self, entry: dict[str, Any]) -> None:
        if time.monotonic() - self.written < PROGRESS_SECONDS:
            return
        from stratopt.optimize.results import search_progress

        progress = search_progress(
            int(entry["evaluations"]),
            int(entry["planned"]),
            int(entry["batch"]),
            generation=entry.get("generation"),
        ).model_dump(mode="json", by_alias=True, exclude_none=True)
        _write_configmap(
            self.cluster,
            self.args.namespace,
            progress_name(self.args.name, self.args.revision),
            self.owner,
            result_labels(self.args.name, self.args.revision),
            {"progress.json": json.dumps(progress)},
        )
        self.written = time.monotonic()


def _write_configmap(
    cluster: Cluster,
    namespace: str,
    name: str,
    owner: dict[str, Any],
    labels: dict[str, str],
    data: dict[str, str],
) -> None:
    metadata = {"name": name, "namespace": namespace, "labels": labels, "ownerReferences": [owner]}
    cluster.store_config_map(
        namespace, {"apiVersion": "v1", "kind": "ConfigMap", "metadata": metadata, "data": data}
    )


def _evaluate_shard(cluster: Cluster, body: dict[str, Any], args: argparse.Namespace) -> None:
    """Evaluate this pod's shard of one batch; store its metrics in order."""
    from stratopt.api import parse_model
    from stratopt.api.v1alpha1 import OptimizationRunSpec
    from stratopt.runtime.optimization import prepare

    index = int(os.environ["JOB_COMPLETION_INDEX"])
    spec = parse_model(OptimizationRunSpec, body["spec"], "spec")
    backtester = prepare(spec)
    part = index // args.shards_per_input
    shards = cluster.config_map_data(
        args.namespace, shard_input_name(args.name, args.revision, args.batch, part)
    )
    batch = json.loads(shards[f"shard-{index}"])
    metrics = [backtester.evaluate(params) for params in batch[:1]]
    # One log line marks the pod's start-up cost (benchmarks/operator_overhead.py reads it).
    print(json.dumps({"event": "first-evaluation", "at": time.time()}), flush=True)
    metrics += [backtester.evaluate(params) for params in batch[1:]]
    owner = owner_reference("OptimizationRun", args.name, body["metadata"]["uid"])
    labels = result_labels(args.name, args.revision)
    if spec.walk_forward is not None and args.batch == 0 and index == 0:
        from stratopt.optimize.walkforward import fold_windows

        folds = fold_windows(backtester.data.index, spec.walk_forward)
        plan = {"folds": str(len(folds))}
        _write_configmap(
            cluster, args.namespace, plan_name(args.name, args.revision), owner, labels, plan
        )
    _write_configmap(
        cluster,
        args.namespace,
        shard_result_name(args.name, args.revision, args.batch, index),
        owner,
        {**labels, "stratopt.io/batch": str(args.batch)},
        {"metrics.json": json.dumps(metrics)},
    )


def _run_fold(cluster: Cluster, body: dict[str, Any], args: argparse.Namespace) -> None:
    """Run the walk-forward fold of this pod's index; store its outcome."""
    from stratopt.api import parse_model
    from stratopt.api.v1alpha1 import OptimizationRunSpec
    from stratopt.optimize.walkforward import fold_windows
    from stratopt.runtime.optimization import prepare
    from stratopt.runtime.walkforward import encode_fold, run_fold

    index = int(os.environ["JOB_COMPLETION_INDEX"])
    spec = parse_model(OptimizationRunSpec, body["spec"], "spec")
    assert spec.walk_forward is not None
    backtester = prepare(spec)
    fold = fold_windows(backtester.data.index, spec.walk_forward)[index]
    _write_configmap(
        cluster,
        args.namespace,
        fold_result_name(args.name, args.revision, index),
        owner_reference("OptimizationRun", args.name, body["metadata"]["uid"]),
        result_labels(args.name, args.revision),
        encode_fold(run_fold(spec, backtester, fold)),
    )


def _finalize(cluster: Cluster, body: dict[str, Any], args: argparse.Namespace) -> dict[str, Any]:
    """The status of a distributed search: the local code path over the stored results."""
    from stratopt.api import parse_model
    from stratopt.api.v1alpha1 import OptimizationRunSpec
    from stratopt.optimize.walkforward import Fold
    from stratopt.runtime.kubernetes import stored_metrics
    from stratopt.runtime.optimization import run_optimization
    from stratopt.runtime.walkforward import FoldOutcome, decode_fold

    spec = parse_model(OptimizationRunSpec, body["spec"], "spec")
    results = cluster.config_maps_data(args.namespace, run_selector(args.name, args.revision))

    def stored(number: int, batch: list[dict[str, float]]) -> list[dict[str, float]]:
        metrics = stored_metrics(results, args.name, args.revision, number, batch)
        if metrics is None:
            raise RuntimeError(f"results of batch {number} are missing")
        return metrics

    def stored_folds(folds: list[Fold]) -> list[FoldOutcome]:
        names = [fold_result_name(args.name, args.revision, i) for i in range(len(folds))]
        missing = [name for name in names if name not in results]
        if missing:
            raise RuntimeError(f"walk-forward results {missing} are missing")
        return [decode_fold(results[name]) for name in names]

    status = run_optimization(spec, workers=1, evaluate=stored, run_folds=stored_folds).status
    document: dict[str, Any] = status.model_dump(mode="json", by_alias=True, exclude_none=True)
    return document


def compile_kernels() -> None:
    """Run every strategy at either fill on a few synthetic bars (with a planted edge, so
    that its recursion compiles too), so that numba compiles and caches each kernel they
    use (the image build does this once for every pod)."""
    from stratopt.api.v1alpha1 import BacktestSpec
    from stratopt.api.v1alpha1.backtest import FillConvention
    from stratopt.backtest.engine import Backtester
    from stratopt.backtest.strategies import available_strategies

    for name in available_strategies():
        for fill in FillConvention:
            spec = BacktestSpec.model_validate(
                {
                    "data": {"source": "synthetic:gbm?bars=600&freq=1h&seed=1&reversion=0.05"},
                    "strategy": {"name": name},
                    "fill": fill.value,
                }
            )
            backtester = Backtester(spec)
            backtester.evaluate()
            backtester.run()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m stratopt.jobs")
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("run", help="run one resource and store its status")
    run.add_argument("--kind", required=True, choices=sorted(PLURALS))
    run.add_argument("--name", required=True)
    run.add_argument("--namespace", required=True)
    run.add_argument("--revision", required=True)
    evaluate = commands.add_parser("evaluate", help="evaluate one shard of a batch")
    fold = commands.add_parser("fold", help="run one walk-forward fold")
    finalize = commands.add_parser("finalize", help="summarize a distributed search")
    for command in (evaluate, fold, finalize):
        command.add_argument("--name", required=True)
        command.add_argument("--namespace", required=True)
        command.add_argument("--revision", required=True)
    evaluate.add_argument("--batch", type=int, required=True)
    evaluate.add_argument("--shards-per-input", type=int, required=True)
    commands.add_parser("compile", help="compile the engine's kernels into numba's cache")
    args = parser.parse_args(argv)
    if args.command == "compile":
        compile_kernels()
        return 0
    if args.command != "run":
        args.kind = "OptimizationRun"

    cluster = Cluster.in_pod()
    body = cluster.resource(args.kind, args.namespace, args.name)
    if revision(body["spec"]) != args.revision:
        print(f"{args.kind} {args.name}'s spec has changed; nothing to do", file=sys.stderr)
        return 0
    try:
        if args.command == "evaluate":
            _evaluate_shard(cluster, body, args)
            return 0
        if args.command == "fold":
            _run_fold(cluster, body, args)
            return 0
        if args.command == "finalize":
            result = _finalize(cluster, body, args)
        elif args.kind == "ForecastRun":
            spec = resolve_analysis(cluster, args.namespace, body["spec"])
            result = execute(args.kind, spec)
        else:
            owner = owner_reference(args.kind, args.name, body["metadata"]["uid"])
            result = execute(args.kind, body["spec"], ProgressReport(cluster, args, owner))
    except StratoptError as exc:
        field = exc.field if isinstance(exc, InputError) else None
        report_failure(WorkerFailure(exc.reason, str(exc).splitlines()[0], field))
        return BAD_INPUT_EXIT_CODE
    _write_configmap(
        cluster,
        args.namespace,
        result_name(args.name, args.revision),
        owner_reference(args.kind, args.name, body["metadata"]["uid"]),
        result_labels(args.name, args.revision),
        {"status.json": json.dumps(result)},
    )
    return 0
