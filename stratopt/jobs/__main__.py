"""The worker: read a run from the API, execute it, write its status to a ConfigMap.

Inputs come from the API only (no mounted files), so the same worker runs unchanged on
a cluster and under the test suite's node agent. Bad input exits with status 2 and one
line saying what to fix, which becomes the pod's termination message; the Job's
podFailurePolicy then fails the run at once instead of retrying.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Any

from pydantic import BaseModel

from stratopt.errors import StratoptError
from stratopt.runtime.protocol import (
    BAD_INPUT_EXIT_CODE,
    PLURALS,
    load_client_configuration,
    owner_reference,
    result_name,
    revision,
    shard_input_name,
    shard_result_name,
)


def _clients() -> tuple[Any, Any]:
    from kubernetes import client

    load_client_configuration()
    return client.CoreV1Api(), client.CustomObjectsApi()


def execute(kind: str, spec: dict[str, Any]) -> dict[str, Any]:
    """Run one resource's spec locally; its status as the API stores it."""
    from stratopt.api import parse_model
    from stratopt.api.v1alpha1 import FeatureAnalysisSpec, ForecastRunSpec, OptimizationRunSpec
    from stratopt.runtime import run_feature_analysis, run_forecast, run_optimization

    status: BaseModel
    if kind == "OptimizationRun":
        status = run_optimization(parse_model(OptimizationRunSpec, spec, "spec")).status
    elif kind == "FeatureAnalysis":
        status = run_feature_analysis(parse_model(FeatureAnalysisSpec, spec, "spec"))
    else:
        status = run_forecast(parse_model(ForecastRunSpec, spec, "spec"))[0]
    document: dict[str, Any] = status.model_dump(mode="json", by_alias=True, exclude_none=True)
    return document


def _write_configmap(
    core: Any,
    namespace: str,
    name: str,
    owner: dict[str, Any],
    labels: dict[str, str],
    data: dict[str, str],
) -> None:
    from kubernetes import client

    configmap: Any = client.V1ConfigMap(
        metadata=client.V1ObjectMeta(
            name=name, namespace=namespace, labels=labels, owner_references=[owner]
        ),
        data=data,
    )
    try:
        core.create_namespaced_config_map(namespace, configmap)
    except client.ApiException as exc:
        if exc.status != 409:
            raise
        core.replace_namespaced_config_map(name, namespace, configmap)


def _evaluate_shard(core: Any, body: dict[str, Any], args: argparse.Namespace) -> None:
    """Evaluate this pod's shard of one batch; store its metrics in order."""
    from stratopt.api import parse_model
    from stratopt.api.v1alpha1 import OptimizationRunSpec
    from stratopt.runtime.optimization import prepare

    index = int(os.environ["JOB_COMPLETION_INDEX"])
    spec = parse_model(OptimizationRunSpec, body["spec"], "spec")
    backtester = prepare(spec)
    shards = core.read_namespaced_config_map(
        shard_input_name(args.name, args.revision, args.batch), args.namespace
    )
    batch = json.loads(shards.data[f"shard-{index}"])
    metrics = [backtester.evaluate(params) for params in batch]
    _write_configmap(
        core,
        args.namespace,
        shard_result_name(args.name, args.revision, args.batch, index),
        owner_reference("OptimizationRun", args.name, body["metadata"]["uid"]),
        {
            "stratopt.io/run": args.name,
            "stratopt.io/revision": args.revision,
            "stratopt.io/batch": str(args.batch),
        },
        {"metrics.json": json.dumps(metrics)},
    )


def _finalize(core: Any, body: dict[str, Any], args: argparse.Namespace) -> dict[str, Any]:
    """The status of a distributed search: the local code path over the stored results."""
    from stratopt.api import parse_model
    from stratopt.api.v1alpha1 import OptimizationRunSpec
    from stratopt.runtime.kubernetes import batch_metrics, shard, stored_results
    from stratopt.runtime.optimization import run_optimization

    spec = parse_model(OptimizationRunSpec, body["spec"], "spec")
    results = stored_results(core, args.namespace, args.name, args.revision)

    def stored(number: int, batch: list[dict[str, float]]) -> list[dict[str, float]]:
        metrics = batch_metrics(
            results,
            args.name,
            args.revision,
            number,
            len(shard(batch, spec.execution.shard_size)),
        )
        if metrics is None:
            raise RuntimeError(f"results of batch {number} are missing")
        return metrics

    status = run_optimization(spec, workers=1, evaluate=stored).status
    document: dict[str, Any] = status.model_dump(mode="json", by_alias=True, exclude_none=True)
    return document


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m stratopt.jobs")
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("run", help="run one resource and store its status")
    run.add_argument("--kind", required=True, choices=sorted(PLURALS))
    run.add_argument("--name", required=True)
    run.add_argument("--namespace", required=True)
    run.add_argument("--revision", required=True)
    evaluate = commands.add_parser("evaluate", help="evaluate one shard of a batch")
    finalize = commands.add_parser("finalize", help="summarize a distributed search")
    for command in (evaluate, finalize):
        command.add_argument("--name", required=True)
        command.add_argument("--namespace", required=True)
        command.add_argument("--revision", required=True)
    evaluate.add_argument("--batch", type=int, required=True)
    args = parser.parse_args(argv)
    if args.command != "run":
        args.kind = "OptimizationRun"

    core, custom = _clients()
    body = custom.get_namespaced_custom_object(
        "stratopt.io", "v1alpha1", args.namespace, PLURALS[args.kind], args.name
    )
    if revision(body["spec"]) != args.revision:
        print(f"{args.kind} {args.name}'s spec has changed; nothing to do", file=sys.stderr)
        return 0
    try:
        if args.command == "evaluate":
            _evaluate_shard(core, body, args)
            return 0
        result = (
            _finalize(core, body, args)
            if args.command == "finalize"
            else execute(args.kind, body["spec"])
        )
    except StratoptError as exc:
        print(f"{exc.reason}: {str(exc).splitlines()[0]}", file=sys.stderr, flush=True)
        return BAD_INPUT_EXIT_CODE
    _write_configmap(
        core,
        args.namespace,
        result_name(args.name, args.revision),
        owner_reference(args.kind, args.name, body["metadata"]["uid"]),
        {"stratopt.io/run": args.name, "stratopt.io/revision": args.revision},
        {"status.json": json.dumps(result)},
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
