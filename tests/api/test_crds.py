"""crds/ is generated from the models: stale files fail, and every field is described."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from stratopt.api.crds import write_crds
from tests.conftest import ROOT


def test_crds_are_up_to_date(tmp_path: Path) -> None:
    for fresh in write_crds(tmp_path):
        shipped = ROOT / "crds" / fresh.name
        assert shipped.exists(), f"crds/{fresh.name} missing: run `stratopt crds`"
        assert shipped.read_text() == fresh.read_text(), (
            f"crds/{fresh.name} is stale: run `stratopt crds` and commit the result"
        )
    generated = {p.name for p in tmp_path.iterdir()}
    assert {p.name for p in (ROOT / "crds").glob("*.yaml")} == generated


def _undescribed(node: dict[str, Any], path: str) -> list[str]:
    missing = []
    for name, child in node.get("properties", {}).items():
        here = f"{path}.{name}"
        if "description" not in child:
            missing.append(here)
        missing += _undescribed(child, here)
        if "items" in child:
            missing += _undescribed(child["items"], f"{here}[]")
        if isinstance(child.get("additionalProperties"), dict):
            missing += _undescribed(child["additionalProperties"], f"{here}{{}}")
    return missing


def test_every_field_has_a_description() -> None:
    for path in (ROOT / "crds").glob("*.yaml"):
        crd = yaml.safe_load(path.read_text())
        schema = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]
        for part in ("spec", "status"):
            assert not _undescribed(schema[part], part), path.name


def _keys(node: Any) -> set[str]:
    if isinstance(node, dict):
        return set(node) | {k for value in node.values() for k in _keys(value)}
    if isinstance(node, list):
        return {k for value in node for k in _keys(value)}
    return set()


def test_schema_is_structural_in_the_ways_pydantic_is_not() -> None:
    for path in (ROOT / "crds").glob("*.yaml"):
        schema = yaml.safe_load(path.read_text())["spec"]["versions"][0]["schema"]
        keys = _keys(schema)
        for forbidden in ("$ref", "$defs", "anyOf", "oneOf", "title", "default"):
            assert forbidden not in keys, f"{path.name}: {forbidden}"
