"""Pydantic models of every stratopt resource: the single source of the CRD schemas."""
