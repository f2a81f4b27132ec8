"""Reference pages written from the code, so they cannot drift from it: a page's
``{{ resources }}``, ``{{ metrics }}`` and ``{{ cli }}`` lines are replaced, when the
site is built, by every kind's fields as its CRD declares them (what the API server
validates and ``kubectl explain`` shows), the metric vocabulary and every command's
``--help``."""

from __future__ import annotations

import re
from typing import Any

import click

from stratopt.api._resource import Resource
from stratopt.api.crds import build_crd
from stratopt.api.v1alpha1 import RESOURCES
from stratopt.api.vocabulary import METRICS
from stratopt.cli import cli

_MARKER = re.compile(r"^\{\{ (resources|metrics|cli) \}\}$", re.M)


def on_page_markdown(markdown: str, **_: Any) -> str:
    return _MARKER.sub(_expand, markdown)


def _expand(match: re.Match[str]) -> str:
    return {"resources": _resources, "metrics": _metrics, "cli": _commands}[match[1]]()


def _resources() -> str:
    sections = []
    for resource in RESOURCES:
        info = resource.crd
        short = "".join(f" or `kubectl get {name}`" for name in info.short_names)
        sections.append(
            f"## {info.kind}\n\n{info.description} `kubectl get {info.plural}`{short}."
            f"\n\n{_fields(resource)}"
        )
    return "\n".join(sections)


def _fields(resource: type[Resource]) -> str:
    crd = build_crd(resource)
    schema = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]
    parts = []
    for part in ("spec", "status"):
        parts.append(f"### {resource.crd.kind} {part}\n\n" + "\n".join(_rows(schema[part], part)))
    return "\n\n".join(parts) + "\n"


def _rows(schema: dict[str, Any], path: str) -> list[str]:
    rows = []
    for name, field in (schema.get("properties") or {}).items():
        at = f"{path}.{name}"
        rows.append(_row(at, field))
        inner = field.get("items", field) if field.get("type") == "array" else field
        if inner.get("properties"):
            rows += _rows(inner, f"{at}[]" if inner is not field else at)
    return rows


def _row(path: str, field: dict[str, Any]) -> str:
    """One field as a list item: its path, its type and bounds, then what it means."""
    kind = field.get("type", "object")
    if kind == "array":
        kind = f"list of {field.get('items', {}).get('type', 'object')}"
    facts = [kind]
    if "enum" in field:
        facts.append("one of " + ", ".join(f"`{v}`" for v in field["enum"]))
    for key, sign in (("minimum", "≥"), ("maximum", "≤")):
        if key in field:
            facts.append(f"{sign} {field[key]:g}")
    if "default" in field:
        facts.append(f"default `{field['default']}`")
    description = " ".join(str(field.get("description", "")).split())
    return f"- **`{path}`** ({'; '.join(facts)}): {description}"


def _metrics() -> str:
    rows = [
        f"| `{name}` | {unit} | {goal} | {description} |"
        for name, (unit, goal, description) in METRICS.items()
    ]
    header = "| metric | unit | default goal | meaning |\n|---|---|---|---|\n"
    return header + "\n".join(rows) + "\n"


def _commands() -> str:
    sections = []
    for name, command in sorted(cli.commands.items()):
        with click.Context(command, info_name=f"stratopt {name}") as context:
            text = command.get_help(context)
        sections.append(f"## `stratopt {name}`\n\n```text\n{text}\n```\n")
    return "\n".join(sections)
