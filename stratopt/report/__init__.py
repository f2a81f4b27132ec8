"""``stratopt report``: one self-contained HTML page of a finished run, with interactive
plotly charts that work offline (plotly.js is inlined once).

Loading a run is :mod:`.source`; the page, and which sections each kind's report has,
:mod:`.page`; each kind's sections are drawn by a module of their own.
"""

from stratopt.report.page import SECTIONS, build_report, write_report
from stratopt.report.source import ReportSource, load_source

__all__ = ["SECTIONS", "ReportSource", "build_report", "load_source", "write_report"]
