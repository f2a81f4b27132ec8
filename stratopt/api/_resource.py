"""Resource classes: a kind's spec and status models plus the CRD facts about it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

from pydantic import BaseModel

GROUP = "stratopt.io"
VERSION = "v1alpha1"


@dataclass(frozen=True)
class CrdInfo:
    """What the CRD says besides the schema: names, columns, description."""

    kind: str
    plural: str
    short_names: tuple[str, ...]
    spec: type[BaseModel]
    status: type[BaseModel]
    description: str
    printer_columns: tuple[dict[str, Any], ...] = field(default_factory=tuple)
    #: The spec fields holding a local path (or a URL, or a synthetic source), as paths
    #: of keys: ``stratopt run FILE`` reads relative ones against FILE's folder.
    local_paths: tuple[tuple[str, ...], ...] = (("data", "source"),)


class Resource:
    """Base of resource classes; subclasses declare ``crd``."""

    crd: ClassVar[CrdInfo]


def condition_column(
    name: str, condition: str, attribute: str, priority: int = 0
) -> dict[str, Any]:
    """A printer column reading one condition, selected by type (never by position)."""
    return {
        "name": name,
        "type": "string",
        "priority": priority,
        "jsonPath": f'.status.conditions[?(@.type=="{condition}")].{attribute}',
    }
