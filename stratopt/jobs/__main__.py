"""The worker: read a run from the API, execute it, write its status to a ConfigMap.

Inputs come from the API only (no mounted files), so the same worker runs unchanged on
a cluster and under the test suite's node agent. Bad input exits with status 2 and one
line saying what to fix, which becomes the pod's termination message; the Job's
podFailurePolicy then fails the run at once instead of retrying.
"""

from __future__ import annotations

import argparse
import json
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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m stratopt.jobs")
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("run", help="run one resource and store its status")
    run.add_argument("--kind", required=True, choices=sorted(PLURALS))
    run.add_argument("--name", required=True)
    run.add_argument("--namespace", required=True)
    run.add_argument("--generation", type=int, required=True)
    args = parser.parse_args(argv)

    core, custom = _clients()
    body = custom.get_namespaced_custom_object(
        "stratopt.io", "v1alpha1", args.namespace, PLURALS[args.kind], args.name
    )
    if body["metadata"].get("generation") != args.generation:
        print(
            f"{args.kind} {args.name} moved on to generation "
            f"{body['metadata'].get('generation')}; nothing to do",
            file=sys.stderr,
        )
        return 0
    try:
        result = execute(args.kind, body["spec"])
    except StratoptError as exc:
        print(f"{exc.reason}: {str(exc).splitlines()[0]}", file=sys.stderr, flush=True)
        return BAD_INPUT_EXIT_CODE
    from kubernetes import client

    configmap: Any = client.V1ConfigMap(
        metadata=client.V1ObjectMeta(
            name=result_name(args.name, args.generation),
            namespace=args.namespace,
            owner_references=[owner_reference(args.kind, args.name, body["metadata"]["uid"])],
            labels={"stratopt.io/run": args.name, "stratopt.io/generation": str(args.generation)},
        ),
        data={"status.json": json.dumps(result)},
    )
    try:
        core.create_namespaced_config_map(args.namespace, configmap)
    except client.ApiException as exc:
        if exc.status != 409:
            raise
        core.replace_namespaced_config_map(configmap.metadata.name, args.namespace, configmap)
    return 0


if __name__ == "__main__":
    sys.exit(main())
