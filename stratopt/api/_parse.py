"""Parsing user documents into models, with every error named by its field path."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from stratopt.api.kinds import KINDS, kind_of
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

    def __reduce__(self) -> tuple[type[SpecError], tuple[list[tuple[str, str]]]]:  # type: ignore[override]
        return type(self), (self.problems,)


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
    if (found := _non_finite(document, prefix)) is not None:
        raise SpecError([(found, "must be a finite number; got infinity or NaN")])
    try:
        return model.model_validate(document)
    except ValidationError as exc:
        raise SpecError(validation_problems(exc, prefix)) from exc


#: Nesting and size of a document once its aliases are expanded: far past any resource,
#: far short of what takes a machine's memory or minutes (a "billion laughs" document).
MAX_DEPTH = 64
MAX_NODES = 200_000


def _non_finite(value: object, path: str) -> str | None:
    """The path of the first infinite or NaN number in a document (YAML's .inf, .nan),
    which no field of a spec means."""
    if isinstance(value, float) and not math.isfinite(value):
        return path
    if isinstance(value, Mapping):
        for key, item in value.items():
            if (found := _non_finite(item, f"{path}.{key}")) is not None:
                return found
    elif isinstance(value, list):
        for index, item in enumerate(value):
            if (found := _non_finite(item, f"{path}[{index}]")) is not None:
                return found
    return None


class _StrictLoader(yaml.SafeLoader):
    """Safe YAML that refuses duplicate keys (which plain YAML silently overwrites), keys
    that are not scalars, and documents nested too deep or too large once expanded."""

    _depth = 0

    def compose_node(self, parent: Any, index: Any) -> Any:
        self._depth += 1
        try:
            if self._depth > MAX_DEPTH:
                raise yaml.composer.ComposerError(
                    None,
                    None,
                    f"nested deeper than {MAX_DEPTH} levels",
                    self.peek_event().start_mark,  # type: ignore[no-untyped-call]
                )
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1

    def construct_document(self, node: yaml.Node) -> Any:
        expanded = _expanded_size(node, {})
        if expanded > MAX_NODES:
            raise yaml.constructor.ConstructorError(
                None,
                None,
                f"expands to more than {MAX_NODES:,} values through its aliases (*name)",
                node.start_mark,
            )
        return super().construct_document(node)

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen = set()
        for key_node, _ in node.value:
            if not isinstance(key_node, yaml.ScalarNode):
                raise yaml.constructor.ConstructorError(
                    None,
                    None,
                    "a key must be a plain value, not a list or mapping",
                    key_node.start_mark,
                )
            key = self.construct_object(key_node, deep=deep)
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"duplicate key {key!r}", key_node.start_mark
                )
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


def _expanded_size(node: yaml.Node, sizes: dict[int, int]) -> int:
    """Values in ``node`` with every alias expanded, each shared node counted once per
    use (its size computed once)."""
    known = sizes.get(id(node))
    if known is not None:
        return known
    size = 1
    if isinstance(node, yaml.SequenceNode):
        size += sum(_expanded_size(child, sizes) for child in node.value)
    elif isinstance(node, yaml.MappingNode):
        size += sum(_expanded_size(k, sizes) + _expanded_size(v, sizes) for k, v in node.value)
    sizes[id(node)] = min(size, MAX_NODES + 1)
    return sizes[id(node)]


def read_document(path: str | Path) -> dict[str, Any]:
    """Read one YAML resource document (``apiVersion``/``kind``/``metadata``/``spec``)."""
    documents = read_documents(path)
    if len(documents) > 1:
        raise InputError(
            str(path), f"holds {len(documents)} documents; this command takes a file of one"
        )
    return documents[0]


def read_documents(path: str | Path) -> list[dict[str, Any]]:
    """Read the YAML resource documents of a file (one, or several separated by ``---``),
    relative local paths made absolute against the file's folder."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise InputError(str(path), "file not found") from exc
    except IsADirectoryError as exc:
        raise InputError(str(path), "is a directory; give a resource file") from exc
    except UnicodeDecodeError as exc:
        raise InputError(
            str(path), f"is not UTF-8 text (byte {exc.start}); save it as UTF-8"
        ) from exc
    try:
        documents = [d for d in yaml.load_all(text, Loader=_StrictLoader) if d is not None]
    except yaml.YAMLError as exc:
        raise InputError(str(path), f"not valid YAML: {exc}") from exc
    except RecursionError as exc:
        raise InputError(str(path), f"nested deeper than {MAX_DEPTH} levels") from exc
    if not documents:
        documents = [None]
    for number, document in enumerate(documents):
        where = str(path) if len(documents) == 1 else f"{path} (document {number + 1})"
        if not isinstance(document, dict) or not isinstance(document.get("spec"), dict):
            raise InputError(f"{where}: spec", "the file must be a resource with a 'spec' mapping")
        check_envelope(document, where)
        resolve_relative_paths(document, path.resolve().parent)
    return documents


#: The one API version of stratopt's kinds.
API_VERSION = "stratopt.io/v1alpha1"
_TOP_LEVEL = ("apiVersion", "kind", "metadata", "spec", "status")


def check_envelope(document: Mapping[str, Any], where: str) -> None:
    """The keys around ``spec``: a known apiVersion and kind, no unknown top-level key
    (``metdata:`` would otherwise be ignored), a mapping for metadata."""
    unknown = sorted(str(key) for key in document if key not in _TOP_LEVEL)
    if unknown:
        raise InputError(
            f"{where}: {unknown[0]}",
            f"unknown top-level field; a resource has only {', '.join(_TOP_LEVEL)}",
        )
    version = document.get("apiVersion", API_VERSION)
    if version != API_VERSION:
        raise InputError(f"{where}: apiVersion", f"must be {API_VERSION}; got {_brief(version)}")
    kind = document.get("kind", kind_of(document))
    if not isinstance(kind, str) or kind not in KINDS:
        raise InputError(f"{where}: kind", f"must be one of {', '.join(KINDS)}; got {_brief(kind)}")
    metadata = document.get("metadata", {})
    if not isinstance(metadata, Mapping):
        raise InputError(f"{where}: metadata", "must be a mapping, e.g. {name: my-run}")
    if "name" in metadata:
        check_name(metadata["name"], f"{where}: metadata.name")


#: A Kubernetes object name (a DNS subdomain): what a cluster accepts, and what names a
#: results folder locally (no "/", "..", NUL or upper case).
_NAME = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")


def check_name(name: object, field: str) -> str:
    """``name`` if it is a valid Kubernetes name, else an :class:`InputError`."""
    if not isinstance(name, str) or len(name) > 253 or not _NAME.match(name):
        raise InputError(
            field,
            "must be a Kubernetes name: at most 253 lower-case letters, digits, '-' and '.', "
            "starting and ending with a letter or digit, e.g. rsi-genetic",
        )
    return name


def _brief(value: object) -> str:
    """A value as a message shows it: short, or only its type."""
    text = repr(value)
    return text if len(text) <= 60 else f"a {type(value).__name__}"


def _is_relative_path(value: object) -> bool:
    text = str(value)
    return not (text.startswith("synthetic:") or "://" in text or Path(text).is_absolute())


def relative_paths(document: Mapping[str, Any]) -> list[tuple[str, str]]:
    """(field, value) of each relative local path in the resource's spec."""
    crd = KINDS.get(kind_of(document))
    found = []
    for path in () if crd is None else crd.local_paths:
        node: Any = document.get("spec")
        for part in path:
            node = node.get(part) if isinstance(node, Mapping) else None
        if isinstance(node, str) and node and _is_relative_path(node):
            found.append(("spec." + ".".join(path), node))
    return found


def resolve_relative_paths(document: dict[str, Any], folder: Path) -> dict[str, Any]:
    """The document with relative local paths made absolute against ``folder`` (the spec
    file's), so that a run does not depend on the directory it was started from."""
    for field, value in relative_paths(document):
        node = document["spec"]
        *parents, last = field.removeprefix("spec.").split(".")
        for part in parents:
            node = node[part]
        node[last] = str((folder / value).resolve())
    return document
