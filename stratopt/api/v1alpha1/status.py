"""Status building blocks shared by every kind: Kubernetes-style conditions."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from stratopt.api._base import ApiModel


class Condition(ApiModel):
    """A Kubernetes condition (type, status, reason, message, lastTransitionTime)."""

    type: str = Field(description="Condition type, e.g. Succeeded, Reconciling, Failed.")
    status: Literal["True", "False", "Unknown"] = Field(description="True, False or Unknown.")
    reason: str = Field(default="", description="CamelCase reason.")
    message: str = Field(default="", description="Human-readable detail; says what to fix.")
    last_transition_time: str | None = Field(
        default=None, description="When status last changed (RFC 3339)."
    )


class RunStatus(ApiModel):
    """The lifecycle fields every kind's status shares (Kubernetes conventions)."""

    phase: Literal["Pending", "Running", "Succeeded", "Failed", "Suspended"] = Field(
        default="Pending", description="Lifecycle phase, derived from the conditions."
    )
    conditions: list[Condition] = Field(
        default_factory=list, description="Kubernetes-style conditions."
    )
    observed_generation: int | None = Field(
        default=None, description="metadata.generation this status describes."
    )
    start_time: str | None = Field(default=None, description="When the run started (RFC 3339).")
    completion_time: str | None = Field(default=None, description="When it finished.")
