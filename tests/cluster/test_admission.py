"""The API server and the models agree on what is valid, and whatever the API server
admits either runs or ends Failed naming a field: mutated examples against the shipped
CRDs on the real API server."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from kubernetes import client

from stratopt.api import SpecError, parse_model
from stratopt.api.v1alpha1 import FeatureAnalysisSpec, ForecastRunSpec, OptimizationRunSpec
from stratopt.errors import InputError
from tests.cluster.conftest import apply
from tests.cluster.controlplane import ControlPlane
from tests.cluster.leftovers import Ledger
from tests.cluster.node import Node
from tests.cluster.operator_process import operator_process
from tests.cluster.test_operating import wait_finished
from tests.test_mutated_examples import mutated

MODELS = {
    "OptimizationRun": OptimizationRunSpec,
    "FeatureAnalysis": FeatureAnalysisSpec,
    "ForecastRun": ForecastRunSpec,
}
#: Rules only the models check, because the API server's schema cannot express them:
#: the operator fails such a run with the field named (tested below). Everything else
#: the models refuse, the API server must refuse too.
MODEL_ONLY = (
    "over the limit of",  # grid points and bar-evaluations are products of many fields
    "step",  # a step against the width of its range
    "must be a bar count or a duration",  # walk-forward windows: int or a pattern string
    "must look like 'metric >= number'",  # the constraint shorthand of stratopt run
    "is listed more than once",  # features: list-type set is the API's, the message ours
)


def model_verdict(document: dict[str, Any]) -> str | None:
    """None when the models accept the spec, else their message."""
    try:
        parse_model(MODELS[document["kind"]], document.get("spec"), "spec")
    except (SpecError, InputError) as exc:
        return str(exc)
    return None


def server_verdict(plane: ControlPlane, namespace: str, document: dict[str, Any]) -> str | None:
    """None when the API server admits the resource (a server-side dry run), else why not."""
    done = apply(plane, namespace, document, dry_run=True, check=False)
    return None if done.returncode == 0 else done.stderr.strip()


def test_the_api_server_and_the_models_agree_and_admitted_runs_end(
    api: client.ApiClient,
    control_plane: ControlPlane,
    namespace: str,
    crds: list[str],
    operator_kubeconfig: Path,
    node: Node,
    ledger: Ledger,
    workdir: Path,
) -> None:
    disagreements: list[str] = []
    admitted: list[dict[str, Any]] = []

    for name in ("optimization-genetic", "feature-analysis", "forecast"):

        @settings(
            max_examples=30,
            deadline=None,
            derandomize=True,
            suppress_health_check=list(HealthCheck),
        )
        @given(document=mutated(name, within=("spec",)))
        def compare(document: dict[str, Any]) -> None:
            ours = model_verdict(document)
            theirs = server_verdict(control_plane, namespace, document)
            if theirs is not None and ours is None:
                disagreements.append(f"only the API server refuses: {theirs}\n{document}")
            elif theirs is None and ours is not None and not any(r in ours for r in MODEL_ONLY):
                disagreements.append(f"only the models refuse: {ours}\n{document}")
            if theirs is None and document["kind"] == "OptimizationRun":
                admitted.append(document)  # forecasts train in pods: too slow to run here

        compare()
    assert not disagreements, "\n\n".join(disagreements[:5])

    # A sample of what the API server admitted, run for real: it ends either way.
    sample = admitted[:6]
    assert sample, "no mutation was admitted: the sample proves nothing"
    with operator_process(namespace, operator_kubeconfig, ledger, workdir):
        for number, document in enumerate(sample):
            document["metadata"] = {"name": f"mutant-{number}"}
            apply(control_plane, namespace, document)
        for number in range(len(sample)):
            body = wait_finished(control_plane, api, namespace, f"mutant-{number}", timeout=300)
            status = body["status"]
            if status["phase"] == "Failed":
                failed = next(c for c in status["conditions"] if c["type"] == "Failed")
                assert failed["message"].startswith("spec"), failed
            else:
                assert status["phase"] == "Succeeded", status
