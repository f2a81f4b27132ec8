"""Several resources in one run: fromFeatureAnalysis names a FeatureAnalysis locally as on
a cluster, so one file holding an analysis and its forecast runs unchanged with
``stratopt run`` and with ``kubectl apply``."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from stratopt.api.documents import in_dependency_order
from stratopt.errors import InputError
from tests.test_examples import reduced


def forecast_of(analysis: str) -> dict[str, Any]:
    document = reduced("forecast")
    document["spec"].pop("features")
    document["spec"]["fromFeatureAnalysis"] = analysis
    return document


def run(*arguments: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "stratopt.cli", "run", *arguments],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
        cwd=cwd,
    )


def test_a_forecast_runs_after_the_analysis_it_names() -> None:
    forecast, analysis = forecast_of("eurusd-features"), reduced("feature-analysis")
    other = reduced("optimization-grid")
    ordered = in_dependency_order([forecast, other, analysis])
    assert [d["kind"] for d in ordered] == ["OptimizationRun", "FeatureAnalysis", "ForecastRun"]


@pytest.mark.parametrize(
    ("documents", "field", "message"),
    [
        ([forecast_of("absent")], "spec.fromFeatureAnalysis", "names FeatureAnalysis 'absent'"),
        (
            [reduced("feature-analysis"), reduced("feature-analysis")],
            "metadata.name",
            "two FeatureAnalysis documents are named 'eurusd-features'",
        ),
    ],
)
def test_references_are_checked_before_anything_runs(
    documents: list[dict[str, Any]], field: str, message: str
) -> None:
    with pytest.raises(InputError, match=message) as caught:
        in_dependency_order(documents)
    assert caught.value.field == field


def test_one_file_with_an_analysis_and_its_forecast(tmp_path: Path) -> None:
    analysis = reduced("feature-analysis")
    both = tmp_path / "both.yaml"
    both.write_text(yaml.safe_dump_all([forecast_of("eurusd-features"), analysis]))
    done = run(str(both), "-o", "json", "--out", "out", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    items = json.loads(done.stdout)["items"]
    assert [(i["kind"], i["metadata"]["name"]) for i in items] == [
        ("FeatureAnalysis", "eurusd-features"),
        ("ForecastRun", "eurusd-forecast"),
    ]
    top = items[0]["status"]["topFeatures"]
    assert items[1]["status"]["features"][: len(top)] == top
    # The same forecast given those features itself: the same status, to the last digit.
    direct = reduced("forecast")
    direct["spec"]["features"] = top
    (tmp_path / "direct.yaml").write_text(yaml.safe_dump(direct))
    alone = run("direct.yaml", "-o", "json", cwd=tmp_path)
    assert alone.returncode == 0, alone.stderr
    timeless = [
        {k: v for k, v in status.items() if k != "trainingSeconds"}
        for status in (json.loads(alone.stdout), items[1]["status"])
    ]
    assert timeless[0] == timeless[1]
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [
        "featureanalysis-eurusd-features",
        "forecastrun-eurusd-forecast",
    ]
    for folder in ("featureanalysis-eurusd-features", "forecastrun-eurusd-forecast"):
        assert (tmp_path / "out" / folder / "status.yaml").is_file()


def test_a_forecast_without_its_analysis_says_what_to_do(tmp_path: Path) -> None:
    (tmp_path / "forecast.yaml").write_text(yaml.safe_dump(forecast_of("eurusd-features")))
    done = run("forecast.yaml", cwd=tmp_path)
    assert done.returncode == 2
    assert done.stderr.startswith(
        "error: spec.fromFeatureAnalysis: names FeatureAnalysis 'eurusd-features', which is "
        "not among the resources given"
    ), done.stderr
    assert "stratopt run ANALYSIS.yaml FORECAST.yaml" in done.stderr
