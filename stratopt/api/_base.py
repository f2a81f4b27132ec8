"""The base model every spec and status model derives from.

YAML and JSON speak camelCase (Kubernetes convention) while Python speaks snake_case;
one alias generator does the translation for every field.
"""

from __future__ import annotations

from collections.abc import Sequence

from pydantic import BaseModel, ConfigDict
from pydantic.alias_generators import to_camel


class ApiModel(BaseModel):
    """Base of all resource models: camelCase aliases, unknown fields rejected."""

    model_config = ConfigDict(
        alias_generator=to_camel,
        populate_by_name=True,
        extra="forbid",
        validate_default=True,
    )


def first_repeated(names: Sequence[str]) -> str | None:
    """The first (alphabetically) of the names listed more than once, if any."""
    repeated = sorted({name for name in names if names.count(name) > 1})
    return repeated[0] if repeated else None
