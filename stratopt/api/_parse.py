"""Parsing user documents into models, with every error named by its field path."""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from stratopt.errors import InputError

M = TypeVar("M", bound=BaseModel)


class SpecError(InputError):
    """One or more invalid fields in a resource document; all are reported at once."""

    reason = "InvalidSpec"

    def __init__(self, problems: list[tuple[str, str]]) -> None:
        self.problems = problems
        field, message = problems[0]
        super().__init__(field, message)

    def __str__(self) -> str:
        return "\n".join(f"{field}: {message}" for field, message in self.problems)


def _field_path(prefix: str, location: tuple[int | str, ...]) -> str:
    path = prefix
    for part in location:
        if isinstance(part, int):
            path += f"[{part}]"
        elif not str(part).startswith(("function-", "tagged-union")):
            path += f".{part}" if path else str(part)
    return path


_NAMED_FIELD = re.compile(r"^([a-z][A-Za-z0-9]*(?:\.[a-z][A-Za-z0-9]*)*): (.+)$", re.DOTALL)


def _shows_input(item: Any, message: str) -> bool:
    """Quote the value when it is one scalar the message does not already quote: never a
    whole mapping or list (a model-level rule would dump the spec)."""
    scalar = isinstance(item.get("input"), str | int | float | bool)
    return item["type"] not in ("missing", "extra_forbidden") and scalar and "got " not in message


def validation_problems(error: ValidationError, prefix: str) -> list[tuple[str, str]]:
    """(field path, message) for each error pydantic found, in camelCase field names."""
    problems = []
    for item in error.errors():
        message = item["msg"].removeprefix("Value error, ")
        if _shows_input(item, message):
            message = f"{message} (got {repr(item['input'])[:80]})"
        if item["type"] == "extra_forbidden":
            message = "unknown field; check its spelling against `kubectl explain` or the README"
        path = _field_path(prefix, tuple(item["loc"]))
        # A rule across fields names the one to change first: "algorithm.grid.steps: …".
        named = _NAMED_FIELD.match(message)
        if named is not None:
            path, message = f"{path}.{named[1]}" if path else named[1], named[2]
        problems.append((path, message))
    return problems


def parse_model(model: type[M], document: object, prefix: str) -> M:
    """Validate ``document`` as ``model``; raise :class:`SpecError` naming every bad field."""
    if not isinstance(document, Mapping):
        raise SpecError([(prefix, f"must be a mapping; got {type(document).__name__}")])
    try:
        return model.model_validate(document)
    except ValidationError as exc:
        raise SpecError(validation_problems(exc, prefix)) from exc


class _StrictLoader(yaml.SafeLoader):
    """Safe YAML that refuses duplicate keys, which plain YAML silently overwrites."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"duplicate key {key!r}", key_node.start_mark
                )
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


def read_document(path: str | Path) -> dict[str, Any]:
    """Read one YAML resource document (``apiVersion``/``kind``/``metadata``/``spec``)."""
    path = Path(path)
    try:
        text = path.read_text()
    except FileNotFoundError as exc:
        raise InputError(str(path), "file not found") from exc
    try:
        document = yaml.load(text, Loader=_StrictLoader)
    except yaml.YAMLError as exc:
        raise InputError(str(path), f"not valid YAML: {exc}") from exc
    if not isinstance(document, dict) or not isinstance(document.get("spec"), dict):
        raise InputError(f"{path}: spec", "the file must be a resource with a 'spec' mapping")
    return document
