"""Lifecycle building blocks shared by every kind: suspension, Kubernetes-style
conditions, and the one list of phases, condition types and reasons the operator sets."""

from __future__ import annotations

from enum import StrEnum
from typing import Literal

from pydantic import Field

from stratopt.api._base import ApiModel


class Phase(StrEnum):
    """A run's lifecycle phase, derived from its conditions."""

    PENDING = "Pending"
    RUNNING = "Running"
    SUCCEEDED = "Succeeded"
    FAILED = "Failed"
    SUSPENDED = "Suspended"
    #: Kueue has not admitted the run's Job (quota, its place in the queue, preempted).
    QUEUED = "Queued"


#: Phases a run does not leave until its spec changes.
TERMINAL_PHASES = (Phase.SUCCEEDED, Phase.FAILED)


class ConditionType(StrEnum):
    """The conditions of a run's status. ``Finished`` is true at either end, for
    ``kubectl wait``; ``Stalled`` and ``Reconciling`` are the ones kstatus reads."""

    RECONCILING = "Reconciling"
    SUCCEEDED = "Succeeded"
    FAILED = "Failed"
    STALLED = "Stalled"
    SUSPENDED = "Suspended"
    FINISHED = "Finished"
    #: True while Kueue holds the run's Job; its reason and message are the Workload's.
    QUEUED = "Queued"


class Reason(StrEnum):
    """The reasons of the conditions and Events the operator sets itself. A failure's
    reason is its error class's (``StratoptError.reason``) or the failed Job's."""

    # conditions
    JOB_RUNNING = "JobRunning"
    IN_PROGRESS = "InProgress"
    COMPLETED = "Completed"
    COMPLETED_WITH_WARNINGS = "CompletedWithWarnings"
    RESUMED = "Resumed"
    RESOLVED = "Resolved"
    SUSPENDED = "Suspended"
    SUCCEEDED = "Succeeded"
    FAILED = "Failed"
    FAILED_CREATE = "FailedCreate"
    UNSCHEDULABLE = "Unschedulable"
    WAITING_FOR_FEATURE_ANALYSIS = "WaitingForFeatureAnalysis"
    JOB_FAILED = "JobFailed"
    QUEUED = "Queued"
    ADMITTED = "Admitted"
    # Events only
    STARTED = "Started"
    RESTARTED = "Restarted"
    JOB_CREATED = "JobCreated"
    BATCH_STARTED = "BatchStarted"
    FOLDS_STARTED = "FoldsStarted"
    BATCH_RERUN = "BatchRerun"
    DEGENERATE = "Degenerate"
    RECOVERED = "Recovered"


class RunSpec(ApiModel):
    """The lifecycle field every kind's spec shares."""

    suspend: bool = Field(
        default=False,
        description="On a cluster: true suspends the run's Job (phase Suspended); false "
        "resumes it where it stopped. Ignored by `stratopt run`.",
    )


class Condition(ApiModel):
    """A Kubernetes condition (type, status, reason, message, lastTransitionTime)."""

    type: ConditionType = Field(description="Condition type, e.g. Succeeded, Reconciling, Failed.")
    status: Literal["True", "False", "Unknown"] = Field(description="True, False or Unknown.")
    reason: str = Field(default="", description="CamelCase reason.")
    message: str = Field(default="", description="Human-readable detail; says what to fix.")
    last_transition_time: str | None = Field(
        default=None, description="When status last changed (RFC 3339)."
    )


class RunStatus(ApiModel):
    """The lifecycle fields every kind's status shares (Kubernetes conventions)."""

    phase: Phase = Field(
        default=Phase.PENDING, description="Lifecycle phase, derived from the conditions."
    )
    conditions: list[Condition] = Field(
        default_factory=list, description="Kubernetes-style conditions."
    )
    observed_generation: int | None = Field(
        default=None, description="metadata.generation this status describes."
    )
    revision: str | None = Field(
        default=None,
        description="Hash of the spec (without suspend) this status describes; "
        "it names the run's Jobs and ConfigMaps.",
    )
    start_time: str | None = Field(default=None, description="When the run started (RFC 3339).")
    completion_time: str | None = Field(default=None, description="When it finished.")
    warnings: list[str] = Field(
        default_factory=list,
        description="What the run found wrong with its own answer, said out loud: "
        "look-ahead and warm-up, picks that lose money or rest on few trades, a best on "
        "a bound of its range, fragile picks, fills at a bar's extremes, a model without "
        "skill, data left untested, and quoting traps (FX pip defaults on an index, "
        "stops under a tick). The README lists every check and what to do about it.",
    )
