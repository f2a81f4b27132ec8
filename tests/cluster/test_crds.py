"""The shipped CRDs on a real API server: they apply, explain themselves, reject bad
objects with messages naming the field, and print their columns."""

from __future__ import annotations

import copy
from typing import Any

import pytest
import yaml
from kubernetes import client

from tests.cluster.conftest import apply, kubectl
from tests.cluster.controlplane import ControlPlane
from tests.conftest import EXAMPLES


def example(name: str = "optimization-genetic") -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load((EXAMPLES / f"{name}.yaml").read_text())
    return document


def test_every_example_is_accepted(
    control_plane: ControlPlane, crds: list[str], namespace: str
) -> None:
    for path in sorted(EXAMPLES.glob("*.yaml")):
        if path.name.endswith(".expect.yaml"):
            continue
        done = kubectl(
            control_plane,
            "apply",
            "--dry-run=server",
            "-n",
            namespace,
            "-f",
            str(path),
            check=False,
        )
        assert done.returncode == 0, f"{path.name}: {done.stderr}"


def test_weights_of_some_objectives_are_accepted(
    control_plane: ControlPlane, crds: list[str], namespace: str
) -> None:
    weighted = _set(example(), "selection.weights", {"net_profit": 2, "max_drawdown": 0})
    done = apply(control_plane, namespace, weighted, dry_run=True, check=False)
    assert done.returncode == 0, done.stderr


def test_explain_shows_descriptions(control_plane: ControlPlane, crds: list[str]) -> None:
    done = kubectl(control_plane, "explain", "optimizationrun.spec.parameters")
    assert "min must be less than max" not in done.stdout  # rules are not descriptions
    assert "The searched parameters." in done.stdout
    assert "Grid spacing" in done.stdout and "Lower bound" in done.stdout
    done = kubectl(control_plane, "explain", "optrun.spec.algorithm.nsga2.populationSize")
    assert "Individuals per generation" in done.stdout


def _set(document: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    changed = copy.deepcopy(document)
    target: Any = changed["spec"]
    parts = path.split(".")
    for part in parts[:-1]:
        target = target[int(part)] if part.isdigit() else target.setdefault(part, {})
    last = parts[-1]
    if value is _DELETE:
        del target[last]
    elif last.isdigit():
        target[int(last)] = value
    else:
        target[last] = value
    return changed


_DELETE = object()
INVALID = [
    ("seed", "x", "spec.seed"),
    ("seed", -1, "spec.seed"),
    ("parameters.0.min", 90, "min must be less than max"),
    ("parameters.0.type", "double", "spec.parameters[0].type"),
    ("parameters.0.step", 0, "spec.parameters[0].step"),
    ("parameters", [], "spec.parameters"),
    (
        "parameters.0",
        {"name": "stop_loss", "min": 0, "max": 10, "log": True},
        "log scale needs min > 0",
    ),
    ("parameters.1", {"name": "take_profit", "type": "categorical"}, "needs values"),
    (
        "parameters.1",
        {"name": "take_profit", "type": "int", "min": 40, "max": 200, "step": 2.5},
        "type int needs whole min, max and step",
    ),
    ("parameters.2", {"name": "stop_loss", "min": 1, "max": 2}, "Duplicate value"),
    ("objectives", [{"name": "profit"}], "spec.objectives[0].name: Unsupported value"),
    ("objectives", [{"name": "sharpe_ratio", "goal": "up"}], "spec.objectives[0].goal"),
    ("objectives", [], "spec.objectives"),
    ("constraints", [{"metric": "trades", "op": ">=", "value": 3}], "spec.constraints[0].metric"),
    ("constraints", [{"metric": "num_trades", "op": "=", "value": 3}], "spec.constraints[0].op"),
    ("algorithm.name", "annealing", "spec.algorithm.name"),
    ("algorithm.nsga2.populationSize", 2, "spec.algorithm.nsga2.populationSize"),
    ("algorithm.nsga2.generations", 0, "spec.algorithm.nsga2.generations"),
    ("algorithm.nsga2.crossoverProbability", 1.5, "crossoverProbability"),
    ("algorithm.grid", {"steps": 3}, "algorithm.grid is set but algorithm.name is not 'grid'"),
    ("algorithm.name", "bayesian", "bayesian optimizes exactly one objective"),
    ("backtest.capital", 0, "spec.backtest.capital"),
    ("backtest.costs.commission", 0.5, "spec.backtest.costs.commission"),
    ("backtest.data.source", "", "spec.backtest.data.source"),
    ("backtest.data.format", "xlsx", "spec.backtest.data.format"),
    ("backtest.fill", "tomorrow", "spec.backtest.fill"),
    ("backtest.strategy", _DELETE, "spec.backtest.strategy"),
    ("backtest.leverage", 0.5, "spec.backtest.leverage"),
    ("execution.mode", "fast", "spec.execution.mode"),
    ("selection.weights", {"win_rate": 1}, "weigh only metrics listed in objectives"),
    ("selection.weights", {"net_profit": -1}, "should be greater than or equal to 0"),
    (
        "selection.weights",
        {"net_profit": 0, "max_drawdown": 0, "sharpe_ratio": 0},
        "at least one objective must weigh more than 0",
    ),
]


@pytest.mark.parametrize(
    ("path", "value", "expected"), INVALID, ids=[f"{p}={v!r}"[:40] for p, v, _ in INVALID]
)
def test_invalid_resources_are_rejected_naming_the_field(
    control_plane: ControlPlane,
    crds: list[str],
    namespace: str,
    path: str,
    value: Any,
    expected: str,
) -> None:
    document = _set(example(), path, value)
    done = apply(control_plane, namespace, document, dry_run=True, check=False)
    assert done.returncode != 0, f"accepted: {path}={value!r}"
    assert expected in done.stderr, done.stderr


def test_printer_columns(
    api: client.ApiClient, control_plane: ControlPlane, crds: list[str], namespace: str
) -> None:
    kubectl(
        control_plane, "apply", "-n", namespace, "-f", str(EXAMPLES / "optimization-genetic.yaml")
    )
    custom = client.CustomObjectsApi(api)
    custom.patch_namespaced_custom_object_status(
        "stratopt.io",
        "v1alpha1",
        namespace,
        "optimizationruns",
        "rsi-genetic",
        {
            "status": {
                "phase": "Running",
                "progress": {"percent": 40},
                "bestSummary": "net_profit=1234",
                "conditions": [
                    {"type": "Reconciling", "status": "True", "reason": "Busy"},
                    {"type": "Succeeded", "status": "False", "reason": "InProgress"},
                ],
            }
        },
    )
    out = kubectl(control_plane, "get", "optrun", "-n", namespace, "-o", "wide").stdout
    header, row = out.strip().splitlines()
    assert header.split() == ["NAME", "ALGORITHM", "PHASE", "PROGRESS", "BEST", "REASON", "AGE"]
    assert row.split()[:6] == [
        "rsi-genetic",
        "nsga2",
        "Running",
        "40",
        "net_profit=1234",
        "InProgress",
    ]
    categories = kubectl(control_plane, "get", "stratopt", "-n", namespace).stdout
    assert "rsi-genetic" in categories
