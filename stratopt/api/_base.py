"""The base model every spec and status model derives from.

YAML and JSON speak camelCase (Kubernetes convention) while Python speaks snake_case;
one alias generator does the translation for every field.
"""

from __future__ import annotations

from collections.abc import Sequence
from types import UnionType
from typing import Any, Union, get_args, get_origin

from pydantic import BaseModel, ConfigDict, JsonValue, ValidationInfo, field_validator
from pydantic.alias_generators import to_camel


class ApiModel(BaseModel):
    """Base of all resource models: camelCase aliases, unknown fields rejected, and no
    true or false where a number belongs (the API server refuses it, so must we)."""

    model_config = ConfigDict(
        alias_generator=to_camel,
        populate_by_name=True,
        extra="forbid",
        validate_default=True,
    )

    @field_validator("*", mode="before")
    @classmethod
    def _no_boolean_numbers(cls, value: Any, info: ValidationInfo) -> Any:
        numeric = info.field_name is not None and _numeric(
            cls.model_fields[info.field_name].annotation
        )
        if isinstance(value, bool) and numeric:
            raise ValueError("must be a number, not true or false")
        return value


def _numeric(annotation: Any) -> bool:
    """Whether a field of this type takes numbers and not booleans."""
    options = get_args(annotation) if get_origin(annotation) in (Union, UnionType) else ()
    kinds = set(options or (annotation,))
    return bool(kinds & {int, float}) and bool not in kinds


def first_repeated(names: Sequence[str]) -> str | None:
    """The first (alphabetically) of the names listed more than once, if any."""
    repeated = sorted({name for name in names if names.count(name) > 1})
    return repeated[0] if repeated else None


def cel(rule: str, message: str, field_path: str | None = None) -> dict[str, str]:
    """An ``x-kubernetes-validations`` entry: the API server's copy of a model rule."""
    entry = {"rule": rule, "message": message}
    if field_path is not None:
        entry["fieldPath"] = field_path
    return entry


def cel_rules(*rules: dict[str, str]) -> ConfigDict:
    """Model config carrying CEL rules into the generated schema."""
    validations: list[JsonValue] = [dict(rule) for rule in rules]
    return ConfigDict(json_schema_extra={"x-kubernetes-validations": validations})
