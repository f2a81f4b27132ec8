"""What every section is made of: a title, paragraphs of text and a chart's HTML."""

from __future__ import annotations

import html
from typing import Any

Section = tuple[str, str, str | None]


def paragraphs(text: str) -> str:
    return "".join(f"<p>{html.escape(line)}</p>" for line in text.split("\n") if line)


def figure_html(figure: Any) -> str:
    return str(figure.to_html(full_html=False, include_plotlyjs=False))


def hover(parameters: dict[str, float]) -> str:
    return "<br>".join(f"{name} = {value:.6g}" for name, value in parameters.items())


def picks_of(status: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The picks that are set, by name."""
    picks = status.get("picks") or {}
    return {k: picks[k] for k in ("conservative", "balanced", "aggressive") if picks.get(k)}
