"""Every example runs through ``stratopt run`` and meets the expectations in its sibling
``.expect.yaml`` (budgets reduced there to fit the test suite)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from stratopt.api import read_document
from tests.browser import inspect_page
from tests.conftest import EXAMPLES
from tests.test_cli import stratopt

EXAMPLE_FILES = sorted(p for p in EXAMPLES.glob("*.yaml") if not p.name.endswith(".expect.yaml"))


def deep_merge(base: dict[str, Any], overrides: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in overrides.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def reduced(example: str) -> dict[str, Any]:
    """An example with the test budget of its .expect.yaml."""
    document = yaml.safe_load((EXAMPLES / f"{example}.yaml").read_text())
    overrides = yaml.safe_load((EXAMPLES / f"{example}.expect.yaml").read_text())["overrides"]
    document["spec"] = deep_merge(document["spec"], overrides)
    return document


def lookup(status: dict[str, Any], key: str) -> Any:
    """A status value by dotted path (lists give their length); bare keys also look in
    ``progress``."""
    if "." not in key and key not in status:
        return status.get("progress", {}).get(key)
    value: Any = status
    for part in key.split("."):
        value = value[part]
    return len(value) if isinstance(value, list) else value


def expected_sections(document: dict[str, Any], status: dict[str, Any]) -> list[str]:
    """A report's sections: warnings first when there are any, importance needs 20
    evaluations, equity the picks of a front."""
    warned = ["Warnings"] if status.get("warnings") else []
    if document["kind"] != "OptimizationRun":
        return (
            warned
            + {
                "FeatureAnalysis": ["Feature importance"],
                "ForecastRun": ["Forecast", "The test part"],
            }[document["kind"]]
        )
    sections = [*warned, "Pareto front"]
    if "picks" in status:
        sections.append("Picks")
    sections.append("Every evaluation")
    if status["progress"]["evaluationsCompleted"] >= 20 and len(document["spec"]["parameters"]) > 1:
        sections.append("Parameter importance")
    sections.append("Optimization history")
    if "picks" in status:
        sections.append("Equity of the picks")
    if "walkForward" in status:
        sections.append("Walk-forward folds")
    return [*sections, "Overfitting diagnostics"]


def sections_of_report(run_out: Path, report_out: Path) -> list[str]:
    """The section titles of the report `stratopt report` writes of a run's --out."""
    done = stratopt("report", str(run_out), "--out", str(report_out))
    assert done.returncode == 0, done.stderr
    page = (report_out / "report.html").read_text()
    assert "<script src" not in page, "the report must not load anything from elsewhere"
    inspect_page(report_out / "report.html", report_out / "shots").assert_rendered()
    return re.findall(r"<h2>(.*?)</h2>", page)


def test_every_example_has_expectations() -> None:
    assert EXAMPLE_FILES
    for example in EXAMPLE_FILES:
        assert example.with_suffix(".expect.yaml").exists(), f"{example.name} has no .expect.yaml"


@pytest.mark.parametrize("example", EXAMPLE_FILES, ids=lambda p: p.stem)
def test_example_runs_locally(example: Path, tmp_path: Path) -> None:
    expectations = yaml.safe_load(example.with_suffix(".expect.yaml").read_text())
    document = read_document(example)  # the strict reader users get (no duplicate keys)
    document["spec"] = deep_merge(document["spec"], expectations["overrides"])
    reduced = tmp_path / example.name
    reduced.write_text(yaml.safe_dump(document))
    done = stratopt("run", str(reduced), "-o", "json", "--out", str(tmp_path / "out"))
    assert done.returncode == 0, done.stderr
    status = json.loads(done.stdout)
    assert status["phase"] == "Succeeded"
    for key, value in expectations["expect"].items():
        assert lookup(status, key) == value, f"{key}: expected {value}, got {lookup(status, key)}"
    written = {p.name for p in (tmp_path / "out").iterdir()} - {"status.yaml", "resource.yaml"}
    assert sections_of_report(tmp_path / "out", tmp_path / "report") == expected_sections(
        document, status
    )
    if document["kind"] == "ForecastRun":
        assert all(p["lower"] <= p["value"] <= p["upper"] for p in status["predictions"])
        assert {"skill", "intervalCoverage", "intervalWidth"} <= set(status["metrics"])
        assert written == {"model.keras", "forecast.png", "test.csv"}
        return
    if document["kind"] == "FeatureAnalysis":
        assert len(status["topFeatures"]) == document["spec"]["topK"]
        assert {"modelScore", "baselineScore", "features"} <= set(status)
        assert written == {"features.parquet", "importance.png"}
        return
    assert status["best"]["parameters"] and status["paretoFront"]
    if len(document["spec"]["objectives"]) == 1:
        assert {"bestParameters", "bestObjectiveValue", "iterationsCompleted"} <= set(status)
    else:
        assert {"conservative", "balanced", "aggressive"} <= set(status["picks"])
    assert written == {"evaluations.csv", "pareto.png", "picks"}
    for pick in ("conservative", "balanced", "aggressive"):
        kept = {p.name for p in (tmp_path / "out" / "picks" / pick).iterdir()}
        assert kept == {"trades.csv", "equity.csv"}, pick
