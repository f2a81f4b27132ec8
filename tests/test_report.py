"""``stratopt report``: one self-contained page that a browser without a network renders
into every chart, and clear errors for what is not a finished run."""

from __future__ import annotations

import html
import json
import os
from pathlib import Path

import pandas as pd
import pytest
import yaml

from tests.browser import inspect_page
from tests.test_cli import stratopt

SPEC = {
    "apiVersion": "stratopt.io/v1alpha1",
    "kind": "OptimizationRun",
    "metadata": {"name": "report-grid"},
    "spec": {
        "seed": 1,
        "backtest": {
            "data": {"source": "synthetic:gbm?bars=3000&freq=1h&seed=5&reversion=0.05"},
            "strategy": {"name": "rsi_reversion"},
        },
        "parameters": [
            {"name": "stop_loss", "type": "float", "min": 20, "max": 80, "step": 10},
            {"name": "take_profit", "type": "float", "min": 40, "max": 160, "step": 20},
        ],
        "objectives": ["net_profit", "max_drawdown"],
        "constraints": [{"metric": "num_trades", "op": ">=", "value": 1}],
        "algorithm": {"name": "grid"},
    },
}


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, object]]:
    folder = tmp_path_factory.mktemp("report")
    (folder / "grid.yaml").write_text(yaml.safe_dump(SPEC))
    done = stratopt("run", str(folder / "grid.yaml"), "-o", "json", "--out", str(folder / "run"))
    assert done.returncode == 0, done.stderr
    written = stratopt("report", str(folder / "run"), "--out", str(folder / "html"), "--rerun")
    assert written.returncode == 0, written.stderr
    assert written.stdout.strip() == str(folder / "html" / "report.html")
    return folder / "html" / "report.html", json.loads(done.stdout)


def test_every_front_member_is_on_the_page_with_its_parameters(
    report: tuple[Path, dict[str, object]],
) -> None:
    path, status = report
    page = path.read_text()
    front = status["paretoFront"]
    assert isinstance(front, list) and front
    for member in front:
        # plotly's JSON writes "<" as \u003c, so that no data can close the script
        hover = "\\u003cbr\\u003e".join(f"{k} = {v:.6g}" for k, v in member["parameters"].items())
        assert hover in page, f"front member {member['parameters']} missing"
    assert "<script src" not in page, "plotly.js is inlined, nothing loads from elsewhere"


def test_a_browser_without_a_network_draws_every_chart_without_an_error(
    report: tuple[Path, dict[str, object]], tmp_path: Path
) -> None:
    path, status = report
    page = inspect_page(path, tmp_path / "shots")
    page.assert_rendered()
    charts = {section.title: [c["traces"] for c in section.charts] for section in page.sections}
    picks = status["picks"]
    assert isinstance(picks, dict)
    # every evaluation, the front, one trace per pick; hypervolume and best; each pick
    warned = ["Warnings"] if status["warnings"] else []
    assert [section.title for section in page.sections][: len(warned) + 1] == [
        *warned,
        "Pareto front",
    ], "warnings come first"
    assert charts == {
        **{key: [] for key in warned},
        "Pareto front": [2 + len(picks)],
        "Picks": [],
        "Every evaluation": [1],
        "Parameter importance": [1],
        "Optimization history": [2],
        "Equity of the picks": [2 * len(picks) + 1],  # equity and drawdown each, buy and hold
        "Returns by month": [1],
        "Trades": [2],
        "Overfitting diagnostics": [],
    }
    # The heat map as a person sees it: drawn, and each year's cell the return of the
    # balanced pick's equity.csv over that year.
    (heat,) = next(s for s in page.sections if s.title == "Returns by month").charts
    assert heat["images"] >= 1, "the heat map's cells were not drawn"
    (drawn,) = heat["heatmaps"]
    equity = pd.read_csv(path.parent.parent / "run" / "picks" / "balanced" / "equity.csv")
    equity["time"] = pd.to_datetime(equity["time"])
    year_end = equity.groupby(equity["time"].dt.year)["equity"].last()
    expected = 100 * (year_end / year_end.shift(1).fillna(100_000.0) - 1)
    column = drawn["x"].index("year")
    for row, year in enumerate(drawn["y"]):
        assert drawn["z"][row][column] == pytest.approx(expected[int(year)]), year
    # The importance chart as a person sees it: one bar a parameter, lengths in the
    # order of the values, the least important still visible.
    (importance,) = next(s for s in page.sections if s.title == "Parameter importance").charts
    (values,) = importance["values"]
    lengths = [bar["width"] for bar in importance["bars"]]
    assert len(lengths) == len(values) == 2
    assert min(lengths) >= 2, f"a bar is invisible: {lengths}"
    assert sorted(range(2), key=lengths.__getitem__) == sorted(range(2), key=values.__getitem__)
    assert all(bar["height"] > 5 for bar in importance["bars"]), "bars, not lines"


def test_the_picks_table_shows_every_pick_with_its_robustness_and_flags(
    report: tuple[Path, dict[str, object]],
) -> None:
    path, status = report
    page = path.read_text()
    table = page.split("<table class='picks'>")[1].split("</table>")[0]
    picks, robustness = status["picks"], status["robustness"]
    assert isinstance(picks, dict) and isinstance(robustness, dict)
    for label in ("conservative", "balanced", "aggressive"):
        row = table.split(f"<td>{label}</td>")[1].split("</tr>")[0]
        assert f"<td>{picks[label]['metrics']['net_profit']:,.4g}</td>" in row
        friction = robustness[label]["friction"]["net_profit"]
        assert f"<td>net_profit {friction:,.4g}</td>" in row
    for warning in status["warnings"]:
        assert html.escape(warning) in page


def test_a_source_that_is_no_run_is_refused_by_name(tmp_path: Path) -> None:
    done = stratopt("report", str(tmp_path / "missing"), "--out", str(tmp_path))
    assert done.returncode != 0 and "Traceback" not in done.stderr
    assert "SOURCE" in done.stderr and "optrun/NAME" in done.stderr
    done = stratopt("report", str(tmp_path), "--out", str(tmp_path / "html"))
    assert done.returncode != 0 and "no status.yaml" in done.stderr


def test_a_results_folder_is_read_as_data_unless_told_to_rerun(tmp_path: Path) -> None:
    """A folder from elsewhere names a module that acts when imported: the report of it
    imports nothing and fetches nothing without --rerun."""
    package = tmp_path / "planted"
    package.mkdir()
    trace = tmp_path / "imported"
    (package / "__init__.py").write_text(f"open({str(trace)!r}, 'w').close()\n")
    folder = tmp_path / "run"
    folder.mkdir()
    (folder / "status.yaml").write_text(
        yaml.safe_dump(
            {
                "phase": "Succeeded",
                "picks": {
                    "balanced": {
                        "parameters": {"stop_loss": 30.0},
                        "objectives": {"net_profit": 1.0},
                        "metrics": {"net_profit": 1.0, "max_drawdown": 1.0},
                    }
                },
            }
        )
    )
    resource = {
        "kind": "OptimizationRun",
        "metadata": {"name": "planted"},
        "spec": {
            "backtest": {
                "data": {"source": "http://127.0.0.1:9/never"},
                "strategy": {"name": "planted:Anything"},
            }
        },
    }
    (folder / "resource.yaml").write_text(yaml.safe_dump(resource))
    planted = {**os.environ, "PYTHONPATH": str(tmp_path)}  # the module is importable
    done = stratopt("report", str(folder), "--out", str(tmp_path), env=planted)
    assert done.returncode == 0, done.stderr
    assert not trace.exists(), "the report imported the folder's strategy module"
    page = (tmp_path / "report.html").read_text()
    assert "report DIR --rerun` re-runs the picks" in html.unescape(page)


@pytest.mark.parametrize(
    ("status", "resource", "expected"),
    [
        ("[unclosed", None, "status.yaml is not readable YAML"),
        ("- a list", None, "status.yaml does not hold a mapping"),
        ("phase: Succeeded", "kind: Other\nspec: {}", "resource.yaml is not a stratopt resource"),
    ],
)
def test_a_malformed_results_folder_is_refused_by_name(
    tmp_path: Path, status: str, resource: str | None, expected: str
) -> None:
    (tmp_path / "status.yaml").write_text(status)
    if resource is not None:
        (tmp_path / "resource.yaml").write_text(resource)
    done = stratopt("report", str(tmp_path), "--out", str(tmp_path / "html"))
    assert done.returncode == 2 and expected in done.stderr, done.stderr
    assert "Traceback" not in done.stderr


def test_a_walk_forward_report_stitches_the_out_of_sample_equity(tmp_path: Path) -> None:
    from tests.test_examples import reduced

    document = reduced("walk-forward")
    (tmp_path / "wf.yaml").write_text(yaml.safe_dump(document))
    done = stratopt("run", str(tmp_path / "wf.yaml"), "-o", "json", "--out", str(tmp_path / "run"))
    assert done.returncode == 0, done.stderr
    walk = json.loads(done.stdout)["walkForward"]
    written = stratopt("report", str(tmp_path / "run"), "--out", str(tmp_path / "html"), "--rerun")
    assert written.returncode == 0, written.stderr
    page = inspect_page(tmp_path / "html" / "report.html", tmp_path / "shots")
    page.assert_rendered()
    (chart,) = next(s for s in page.sections if s.title == "Walk-forward equity").charts
    assert chart["traces"] == 1 + len(walk["folds"])  # the stitched curve, a fit per fold
    stitched = chart["values"][0]
    capital = document["spec"]["backtest"]["capital"]
    expected = capital + walk["summary"]["metrics"]["net_profit"]
    assert stitched[-1] == pytest.approx(expected, rel=1e-9)
