"""The algorithm catalogue: each entry of ``ALGORITHMS`` has everything an algorithm
needs (docs/development.md), and the API is generated from the catalogue alone."""

from __future__ import annotations

import importlib
from pathlib import Path

import pytest
import yaml

from stratopt.api.crds import build_crd
from stratopt.api.v1alpha1 import ALGORITHMS, AlgorithmSettings, AlgorithmSpec, OptimizationRun
from stratopt.optimize import DRIVERS, Driver
from tests.optimize.conftest import ALGORITHMS as CONTRACT_SUITE
from tests.optimize.conftest import small_spec

ROOT = Path(__file__).parents[2]
NAMES = [a.name for a in ALGORITHMS]


def _example_algorithms() -> set[str]:
    names = set()
    for path in (ROOT / "examples").glob("*.yaml"):
        if path.name.endswith(".expect.yaml"):
            continue
        document = yaml.safe_load(path.read_text())
        if document.get("kind") == "OptimizationRun":
            names.add(document["spec"]["algorithm"]["name"])
    return names


@pytest.mark.parametrize("settings", ALGORITHMS, ids=NAMES)
def test_every_algorithm_has_a_driver_an_example_and_a_contract_entry(
    settings: type[AlgorithmSettings],
) -> None:
    module = importlib.import_module(f"stratopt.optimize.algorithms.{settings.name}")
    assert issubclass(module.DRIVER, Driver), f"{module.__name__} has no DRIVER"
    assert DRIVERS[settings.name] is module.DRIVER
    assert settings.name in _example_algorithms(), f"no example searches with {settings.name}"
    assert settings.name in CONTRACT_SUITE, f"{settings.name} is not in the contract suite"


def test_the_api_is_generated_from_the_catalogue() -> None:
    assert set(AlgorithmSpec.model_fields) == {"name", *NAMES}
    crd = build_crd(OptimizationRun)
    schema = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    algorithm = schema["properties"]["spec"]["properties"]["algorithm"]
    assert algorithm["properties"]["name"]["enum"] == NAMES
    ruled = {rule["fieldPath"] for rule in algorithm["x-kubernetes-validations"]}
    assert ruled == {f".{name}" for name in NAMES}
    for name in NAMES:  # an omitted block is filled with the algorithm's defaults
        spec = AlgorithmSpec.model_validate({"name": name})
        assert type(spec.settings()).name == name


@pytest.mark.parametrize("name", NAMES)
def test_settings_size_the_search_the_driver_makes(name: str) -> None:
    """The spec-only sizing (limits, execution mode) bounds what the driver does."""
    spec = small_spec(name)
    settings = spec.algorithm.settings()
    driver = DRIVERS[name](spec)
    assert driver.planned_evaluations <= settings.planned_evaluations(spec)
    first = driver.ask()
    if name != "ensemble":  # an ensemble's first batch is estimated from its largest member
        assert len(first) == settings.first_batch(spec)


def test_development_guide_says_how_to_add_an_algorithm() -> None:
    development = (ROOT / "docs" / "development.md").read_text()
    for needed in ("ALGORITHMS", "stratopt/optimize/algorithms/", "DRIVER", "examples/"):
        assert needed in development, needed
    assert "tests/optimize/conftest.py" in development
