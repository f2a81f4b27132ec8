"""Generate ``crds/`` from the resource models: ``python -m stratopt.api.crds [DIR]``.

The pydantic models are the single source; the files are generated output, and a test
fails when they are stale.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import yaml

from stratopt.api._resource import GROUP, VERSION, Resource
from stratopt.api._schema import crd_schema
from stratopt.api.v1alpha1 import RESOURCES

CATEGORY = "stratopt"


def build_crd(resource: type[Resource]) -> dict[str, Any]:
    """The CustomResourceDefinition of ``resource``."""
    info = resource.crd
    spec_schema = crd_schema(info.spec)
    status_schema = crd_schema(info.status)
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": f"{info.plural}.{GROUP}"},
        "spec": {
            "group": GROUP,
            "names": {
                "kind": info.kind,
                "listKind": f"{info.kind}List",
                "plural": info.plural,
                "singular": info.kind.lower(),
                "shortNames": list(info.short_names),
                "categories": [CATEGORY],
            },
            "scope": "Namespaced",
            "versions": [
                {
                    "name": VERSION,
                    "served": True,
                    "storage": True,
                    "subresources": {"status": {}},
                    "additionalPrinterColumns": [dict(c) for c in info.printer_columns],
                    "schema": {
                        "openAPIV3Schema": {
                            "type": "object",
                            "description": info.description,
                            "properties": {
                                "apiVersion": {
                                    "type": "string",
                                    "description": "stratopt.io/v1alpha1",
                                },
                                "kind": {"type": "string", "description": info.kind},
                                "metadata": {"type": "object"},
                                "spec": spec_schema,
                                "status": status_schema,
                            },
                            "required": ["spec"],
                        }
                    },
                }
            ],
        },
    }


def render(resource: type[Resource]) -> str:
    header = "# Generated from the stratopt.api models by `stratopt crds`; do not edit.\n"
    return header + yaml.safe_dump(build_crd(resource), sort_keys=False, width=100)


def write_crds(directory: Path) -> list[Path]:
    """Write one file per resource into ``directory``; return their paths."""
    directory.mkdir(parents=True, exist_ok=True)
    paths = []
    for resource in RESOURCES:
        path = directory / f"{resource.crd.plural}.{GROUP}.yaml"
        path.write_text(render(resource))
        paths.append(path)
    return paths


def main(argv: list[str] | None = None) -> None:
    arguments = sys.argv[1:] if argv is None else argv
    directory = Path(arguments[0]) if arguments else Path("crds")
    for path in write_crds(directory):
        print(path)


if __name__ == "__main__":
    main()
