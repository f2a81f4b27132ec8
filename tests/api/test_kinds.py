"""One registry of kinds: it is what the shipped CRDs declare, every layer that treats
kinds one by one covers exactly its kinds, and command-line names resolve as kubectl's."""

from __future__ import annotations

import pytest
import yaml

from stratopt.api.kinds import DEFAULT_KIND, KINDS, PLURALS, kind_named, kind_of
from tests.conftest import ROOT


def test_the_registry_is_what_the_shipped_crds_declare() -> None:
    declared = {}
    for path in (ROOT / "crds").glob("*.yaml"):
        names = yaml.safe_load(path.read_text())["spec"]["names"]
        declared[names["kind"]] = (names["plural"], tuple(names["shortNames"]))
    assert declared == {kind: (crd.plural, crd.short_names) for kind, crd in KINDS.items()}
    assert {kind: plural for kind, (plural, _) in declared.items()} == PLURALS
    assert DEFAULT_KIND in KINDS


def test_every_per_kind_table_covers_exactly_the_registry() -> None:
    """How each kind runs, is shown and is reported; the operator, the worker and the
    client take their kinds from the registry itself."""
    from stratopt.cli import LOCAL_RUNS as SHOWN
    from stratopt.report import SECTIONS
    from stratopt.runtime.resources import RUNNERS

    for table in (RUNNERS, SHOWN, SECTIONS):
        assert set(table) == set(KINDS)


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        ("optrun", "OptimizationRun"),
        ("OptimizationRuns", "OptimizationRun"),
        ("optimizationrun", "OptimizationRun"),
        ("fa", "FeatureAnalysis"),
        ("featureanalyses", "FeatureAnalysis"),
        ("FCRUN", "ForecastRun"),
        ("ForecastRun", "ForecastRun"),
        ("pods", None),
        ("", None),
    ],
)
def test_kinds_are_named_as_kubectl_names_them(name: str, kind: str | None) -> None:
    assert kind_named(name) == kind


def test_a_document_without_a_kind_is_of_the_default_kind() -> None:
    assert kind_of({"spec": {}}) == DEFAULT_KIND
    assert kind_of({"kind": "ForecastRun"}) == "ForecastRun"
