"""Pydantic models of every stratopt resource: the single source of the CRD schemas."""

from stratopt.api._parse import (
    SpecError,
    parse_model,
    read_document,
    read_documents,
    validation_problems,
)

__all__ = ["SpecError", "parse_model", "read_document", "read_documents", "validation_problems"]
