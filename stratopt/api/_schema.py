"""Translate pydantic's JSON Schema into the structural OpenAPI v3 Kubernetes accepts.

The differences handled here: ``$ref``/``$defs`` are inlined; ``anyOf [X, null]`` becomes
``X`` with ``nullable``; numeric ``exclusiveMinimum``/``exclusiveMaximum`` become boolean
flags on ``minimum``/``maximum``; ``title`` goes; ``default`` goes too, because pydantic
applies defaults when a spec is read and GitOps tools should see the object as written;
unions of scalars and open mappings of any value become
``x-kubernetes-preserve-unknown-fields``. CEL rules travel as ``x-kubernetes-validations``
declared on the models next to their pydantic validators.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

_DROP = {"title", "default", "discriminator"}


def crd_schema(model: type[BaseModel]) -> dict[str, Any]:
    """The structural schema of ``model`` (camelCase field names)."""
    raw = model.model_json_schema(by_alias=True, mode="validation")
    definitions = raw.pop("$defs", {})
    schema: dict[str, Any] = _convert(raw, definitions)
    return schema


def _convert(node: Any, definitions: dict[str, Any]) -> Any:
    if isinstance(node, list):
        return [_convert(item, definitions) for item in node]
    if not isinstance(node, dict):
        return node
    node = dict(node)
    if "$ref" in node:
        target = definitions[node.pop("$ref").rsplit("/", 1)[-1]]
        node = {**target, **node}
    description = node.get("description")
    if node.get("x-kubernetes-int-or-string"):
        int_or_string: dict[str, Any] = {"x-kubernetes-int-or-string": True}
        if description:
            int_or_string["description"] = description
        if any(o.get("type") == "null" for o in node.get("anyOf", [])):
            int_or_string["nullable"] = True
        return int_or_string
    if "anyOf" in node:
        choices = node.pop("anyOf")
        options = [o for o in choices if o.get("type") != "null"]
        if len(options) == 1:
            single = _convert(options[0], definitions)
            if description:
                single["description"] = description
            if len(options) < len(choices):
                single["nullable"] = True
            return single
        # A union of several shapes cannot be structural: accept any value and rely on
        # the model (and CEL rules, where declared) to validate it.
        loose: dict[str, Any] = {"x-kubernetes-preserve-unknown-fields": True}
        if description:
            loose["description"] = description
        return loose
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key in _DROP:
            continue
        if key.startswith("x-kubernetes-"):
            out[key] = value
            continue
        if key == "exclusiveMinimum" and not isinstance(value, bool):
            out["minimum"], out["exclusiveMinimum"] = value, True
        elif key == "exclusiveMaximum" and not isinstance(value, bool):
            out["maximum"], out["exclusiveMaximum"] = value, True
        elif key == "const":
            out["enum"] = [value]
        elif key == "properties":
            out[key] = {name: _convert(child, definitions) for name, child in value.items()}
        elif key in ("items", "additionalProperties"):
            if value is True or value == {}:
                out["x-kubernetes-preserve-unknown-fields"] = True
            else:
                out[key] = _convert(value, definitions)
        else:
            out[key] = _convert(value, definitions)
    if (
        out.get("type") == "object"
        and "properties" not in out
        and "additionalProperties" not in out
    ):
        out["x-kubernetes-preserve-unknown-fields"] = True
    if out.get("additionalProperties") is False:
        del out["additionalProperties"]
    if (
        "type" not in out
        and "x-kubernetes-preserve-unknown-fields" not in out
        and "enum" not in out
    ):
        out["x-kubernetes-preserve-unknown-fields"] = True
    return out
