"""The report's page: plotly.js inlined once, then one section per chart, so that it
opens offline."""

from __future__ import annotations

import html
from collections.abc import Callable
from pathlib import Path

from stratopt.report.learning import feature_sections, forecast_sections
from stratopt.report.markup import Section, paragraphs
from stratopt.report.optimization import optimization_sections
from stratopt.report.source import ReportSource


def build_report(source: ReportSource) -> str:
    """The whole page: plotly.js once, then one section per chart."""
    from plotly.offline import get_plotlyjs

    sections = SECTIONS[source.kind](source)
    warnings = source.status.get("warnings") or []
    if warnings:
        items = "".join(f"<li>{html.escape(str(w))}</li>" for w in warnings)
        sections.insert(
            0,
            (
                "Warnings",
                f"{len(warnings)} thing{'s' if len(warnings) > 1 else ''} to know before "
                "trusting this result:",
                f"<ul class='warnings'>{items}</ul>",
            ),
        )
    body = "\n".join(
        f"<section><h2>{html.escape(title)}</h2>{paragraphs(text)}{figure or ''}</section>"
        for title, text, figure in sections
    )
    return (
        "<!DOCTYPE html>\n<html><head><meta charset='utf-8'>"
        f"<title>{html.escape(source.kind)} {html.escape(source.name)}</title>"
        "<style>body{font-family:sans-serif;max-width:1100px;margin:auto;padding:1em}"
        "section{margin-bottom:2em}table.picks{border-collapse:collapse}"
        "table.picks td,table.picks th{border:1px solid #ccc;padding:2px 6px;text-align:right}"
        "ul.warnings{background:#fff4e5;border-left:4px solid #f0a030;padding:.5em 2em}</style>"
        f"<script>{get_plotlyjs()}</script></head><body>"
        f"<h1>{html.escape(source.kind)} {html.escape(source.name)}</h1>\n{body}</body></html>"
    )


def write_report(source: ReportSource, directory: str) -> Path:
    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    path = out / "report.html"
    path.write_text(build_report(source), encoding="utf-8")
    return path


#: The sections of each kind's report.
SECTIONS: dict[str, Callable[[ReportSource], list[Section]]] = {
    "OptimizationRun": optimization_sections,
    "FeatureAnalysis": feature_sections,
    "ForecastRun": forecast_sections,
}
