"""The Argo CD health check's inputs (charts/stratopt/argocd/testdata) are the statuses
the operator's status builders write at each step of a run's life, so the Lua script is
tested against what the operator really writes. After a change to those builders,
rewrite them with ``python -m tests.operator.test_argocd_inputs``."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from stratopt.api.v1alpha1.status import Reason, RunStatus
from stratopt.operator import status as build
from tests.conftest import ROOT

TESTDATA = ROOT / "charts" / "stratopt" / "argocd" / "testdata"
NOW = "2026-12-02T00:00:00Z"


def resources() -> dict[str, dict[str, Any]]:
    new = RunStatus()
    running = build.running(new, 1, "batch 2 of 50", NOW)
    unschedulable = "0/1 nodes are available: 1 Insufficient nvidia.com/gpu."
    waiting = "no FeatureAnalysis eurusd-features has succeeded yet"
    succeeded = {
        "topFeatures": ["rsi_14"],
        **build.patch(build.succeeded(running, 1, [], NOW)),
    }
    failed = build.failed(
        running, 1, "InvalidData", "spec.backtest.data.source: file not found", NOW
    )
    stalled = build.stalled(new, 1, Reason.UNSCHEDULABLE, unschedulable, NOW)
    held = (
        "Kueue holds Job rsi-1f2e3d4c in LocalQueue research (Pending): couldn't assign "
        "flavors to pod set main: insufficient unused quota for cpu in flavor default, 100m "
        "more needed"
    )
    queued = build.queued(new, 1, "Pending", held, NOW)
    cases: dict[str, tuple[str, int, dict[str, Any] | None]] = {
        "new": ("OptimizationRun", 1, None),
        "running": ("OptimizationRun", 1, build.patch(running)),
        "changed": ("OptimizationRun", 2, build.patch(running)),
        "suspended": ("OptimizationRun", 1, build.patch(build.suspended(running, 1, NOW))),
        "stalled": ("ForecastRun", 1, build.patch(stalled)),
        "waiting": (
            "ForecastRun",
            1,
            build.patch(build.waiting(new, 1, Reason.WAITING_FOR_FEATURE_ANALYSIS, waiting, NOW)),
        ),
        "queued": ("OptimizationRun", 1, build.patch(queued)),
        "succeeded": ("FeatureAnalysis", 1, succeeded),
        "failed": ("OptimizationRun", 1, build.patch(failed)),
    }
    documents = {}
    for name, (kind, generation, status) in cases.items():
        document: dict[str, Any] = {
            "apiVersion": "stratopt.io/v1alpha1",
            "kind": kind,
            "metadata": {"name": name, "namespace": "research", "generation": generation},
        }
        if status is not None:
            document["status"] = status
        documents[name] = document
    return documents


@pytest.mark.parametrize("name", sorted(resources()))
def test_health_inputs_are_what_the_operator_writes(name: str) -> None:
    recorded = yaml.safe_load((TESTDATA / f"{name}.yaml").read_text())
    assert recorded == resources()[name], "rewrite: python -m tests.operator.test_argocd_inputs"


def test_every_input_is_a_case_of_the_health_tests() -> None:
    cases = yaml.safe_load((TESTDATA.parent / "health_test.yaml").read_text())["tests"]
    assert sorted(c["inputPath"] for c in cases) == sorted(
        f"testdata/{name}.yaml" for name in resources()
    )


if __name__ == "__main__":
    for name, document in resources().items():
        (TESTDATA / f"{name}.yaml").write_text(yaml.safe_dump(document, sort_keys=False))
