"""The kinds of resource stratopt serves: one registry, derived from the API's resource
classes (``stratopt.api.v1alpha1.RESOURCES``), which every layer reads instead of
spelling kinds, plurals and models itself. A new kind is a new resource class there."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from stratopt.api._resource import CrdInfo
from stratopt.api.v1alpha1 import RESOURCES

#: Each kind's CRD facts and models, by kind, in the order their CRDs are written.
KINDS: dict[str, CrdInfo] = {resource.crd.kind: resource.crd for resource in RESOURCES}
#: Each kind's plural, the name of its API collection.
PLURALS: dict[str, str] = {kind: crd.plural for kind, crd in KINDS.items()}
#: The kind of a document that names none.
DEFAULT_KIND = "OptimizationRun"


def kind_of(document: Mapping[str, Any]) -> str:
    """The kind a resource document declares, or the default."""
    return str(document.get("kind", DEFAULT_KIND))


def kind_named(name: str) -> str | None:
    """The kind ``name`` stands for on a command line, as kubectl reads it: the kind,
    its plural or a short name, in any case; None for no kind."""
    wanted = name.lower()
    for kind, crd in KINDS.items():
        if wanted in (kind.lower(), crd.plural, *crd.short_names):
            return kind
    return None
