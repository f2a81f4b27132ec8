"""``OptimizationRun``: what to search, how, and the status the search reports."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from enum import StrEnum
from functools import cached_property
from typing import Any, Literal

from pydantic import (
    Field,
    field_validator,
    model_validator,
)

from stratopt.api._base import ApiModel, cel, cel_rules, first_repeated
from stratopt.api._resource import CrdInfo, Resource, condition_column
from stratopt.api.v1alpha1.algorithms import ALGORITHMS, AlgorithmSpec
from stratopt.api.v1alpha1.backtest import BacktestSpec
from stratopt.api.v1alpha1.limits import limit_problem
from stratopt.api.v1alpha1.status import RunSpec, RunStatus
from stratopt.api.vocabulary import METRIC_NAMES, Goal, default_goal

_METRICS = ", ".join(METRIC_NAMES)
_CEL_METRICS = "[" + ", ".join(f"'{m}'" for m in METRIC_NAMES) + "]"
_CATEGORICAL = "(has(self.type) && self.type == 'categorical')"


def _keyed_by_name(schema: dict[str, Any]) -> None:
    """The API server enforces unique names in a list keyed by ``name``."""
    schema["x-kubernetes-list-type"] = "map"
    schema["x-kubernetes-list-map-keys"] = ["name"]


_METRIC_ENUM: dict[str, Any] = {"enum": list(METRIC_NAMES)}


def _weights_schema(schema: dict[str, Any]) -> None:
    """The API server refuses a negative weight, and bounds the map (one weight per
    objective at most) so that the rules over it stay within CEL's cost budget."""
    schema["additionalProperties"] = {"type": "number", "minimum": 0}
    schema["maxProperties"] = len(METRIC_NAMES)


class ParameterType(StrEnum):
    INT = "int"
    FLOAT = "float"
    CATEGORICAL = "categorical"


class ParameterRange(ApiModel):
    """One searched parameter and the values it may take."""

    model_config = cel_rules(
        cel(f"!{_CATEGORICAL} || has(self.values)", "a categorical parameter needs values"),
        cel(
            f"{_CATEGORICAL} || (has(self.min) && has(self.max))",
            "min and max are required for type int and float",
        ),
        cel(
            "!has(self.min) || !has(self.max) || self.min < self.max",
            "min must be less than max",
            ".min",
        ),
        cel(
            "!has(self.log) || !self.log || (has(self.min) && self.min > 0.0)",
            "log scale needs min > 0",
            ".log",
        ),
        cel(
            "!has(self.type) || self.type != 'int' || ["
            "has(self.min) ? self.min : 0.0, has(self.max) ? self.max : 0.0, "
            "has(self.step) ? self.step : 1.0].all(x, double(int(x)) == x)",
            "type int needs whole min, max and step",
        ),
    )

    name: str = Field(
        min_length=1,
        description="A parameter of the strategy or a risk "
        "parameter (stop_loss, take_profit, position_size).",
    )
    type: ParameterType = Field(
        default=ParameterType.FLOAT, description="'int', 'float' or 'categorical'."
    )
    min: float | None = Field(default=None, description="Lower bound (int and float).")
    max: float | None = Field(
        default=None, description="Upper bound (int and float); must exceed min."
    )
    step: float | None = Field(
        default=None,
        gt=0,
        description="Grid spacing; values are min, min+step, … up to max. Used by grid search.",
    )
    values: list[float] | None = Field(
        default=None, min_length=1, description="The choices of a categorical parameter."
    )
    log: bool = Field(default=False, description="Search on a log scale (needs min > 0).")

    @model_validator(mode="after")
    def _check_bounds(self) -> ParameterRange:
        if self.type is ParameterType.CATEGORICAL:
            if not self.values:
                raise ValueError(f"parameter '{self.name}': a categorical parameter needs values")
            return self
        if self.min is None or self.max is None:
            raise ValueError(
                f"parameter '{self.name}': min and max are required for type {self.type.value}"
            )
        if self.min >= self.max:
            raise ValueError(
                f"parameter '{self.name}': min must be less than max; got "
                f"min={self.min:g}, max={self.max:g}"
            )
        if self.log and self.min <= 0:
            raise ValueError(f"parameter '{self.name}': log scale needs min > 0")
        if self.type is ParameterType.INT:
            bounds = {"min": self.min, "max": self.max, "step": self.step}
            fractional = {k: v for k, v in bounds.items() if v is not None and v != int(v)}
            if fractional:
                given = ", ".join(f"{k}={v:g}" for k, v in fractional.items())
                raise ValueError(
                    f"parameter '{self.name}': type int needs whole min, max and step; got {given}"
                )
        if self.step is not None and self.step > self.max - self.min:
            raise ValueError(f"parameter '{self.name}': step {self.step:g} exceeds the range")
        return self


def _check_metric(name: str) -> str:
    if name not in METRIC_NAMES:
        raise ValueError(f"unknown metric '{name}'; use one of: {_METRICS}")
    return name


class Objective(ApiModel):
    """A metric to optimize; written as a bare metric name or with an explicit goal."""

    name: str = Field(
        description=f"Metric name: one of {_METRICS}.", json_schema_extra=_METRIC_ENUM
    )
    goal: Goal | None = Field(
        default=None,
        description="'maximize' or 'minimize'; by "
        "default the metric's natural direction (max_drawdown and "
        "exposure are minimized, the rest maximized).",
    )

    _metric = field_validator("name")(_check_metric)

    @property
    def direction(self) -> Goal:
        return self.goal if self.goal is not None else default_goal(self.name)


_CONSTRAINT = re.compile(r"^\s*([a-z_]+)\s*(>=|<=)\s*(-?[0-9.eE+-]+)\s*$")


class Constraint(ApiModel):
    """A bound a solution's metric must respect, e.g. ``num_trades >= 30``."""

    metric: str = Field(
        description=f"Metric name: one of {_METRICS}.", json_schema_extra=_METRIC_ENUM
    )
    op: Literal[">=", "<="] = Field(description="'>=' or '<='.")
    value: float = Field(description="The bound.")

    _metric = field_validator("metric")(_check_metric)

    def violation(self, metrics: dict[str, float]) -> float:
        """How far ``metrics`` are outside the bound (0 when satisfied)."""
        actual = metrics[self.metric]
        gap = self.value - actual if self.op == ">=" else actual - self.value
        return max(gap, 0.0)


_NUMBER = r"[0-9]+(?:\.[0-9]*)?(?:[eE][+-]?[0-9]+)?"
_TERM = rf"(?:(?:{_NUMBER})\s*\*\s*)?[A-Za-z_][A-Za-z0-9_]*(?:\s*[+-]\s*{_NUMBER})?|-?{_NUMBER}"
#: ``fast_period < slow_period``, ``2 * fast_period <= slow_period``,
#: ``take_profit >= stop_loss + 10``: a comparison of two linear terms.
PARAMETER_CONSTRAINT = rf"^\s*({_TERM})\s*(<=|>=|<|>)\s*({_TERM})\s*$"
_PARAMETER_TERM = re.compile(
    rf"^(?:({_NUMBER})\s*\*\s*)?([A-Za-z_][A-Za-z0-9_]*)(?:\s*([+-])\s*({_NUMBER}))?$"
)


@dataclass(frozen=True)
class ParameterRelation:
    """A parsed parameter constraint: ``scale * name + offset`` on either side."""

    text: str
    left: tuple[float, str | None, float]
    op: str
    right: tuple[float, str | None, float]

    @classmethod
    def parse(cls, text: str) -> ParameterRelation:
        match = re.match(PARAMETER_CONSTRAINT, text)
        if match is None:
            raise ValueError(
                f"{text!r} must compare two parameters, e.g. 'fast_period < slow_period' or "
                "'take_profit >= 2 * stop_loss' (ops <, <=, >, >=; terms: number * name + number)"
            )
        return cls(text.strip(), _term(match[1]), match[2], _term(match[3]))

    @property
    def names(self) -> list[str]:
        return [n for _, n, _ in (self.left, self.right) if n is not None]

    def violation(self, parameters: dict[str, float]) -> float:
        """How far ``parameters`` are from satisfying the relation (0 when they do); a
        strict relation met with equality is violated by the smallest amount."""
        left, right = _value(self.left, parameters), _value(self.right, parameters)
        gap = left - right if self.op in ("<", "<=") else right - left
        if self.op in ("<", ">") and gap >= 0:
            return max(gap, 1e-12)
        return max(gap, 0.0)


def _term(text: str) -> tuple[float, str | None, float]:
    match = _PARAMETER_TERM.match(text.strip())
    if match is None:
        return 0.0, None, float(text)
    offset = float(match[4] or 0) * (-1 if match[3] == "-" else 1)
    return float(match[1] or 1), match[2], offset


def _value(term: tuple[float, str | None, float], parameters: dict[str, float]) -> float:
    scale, name, offset = term
    return offset if name is None else scale * parameters[name] + offset


class ExecutionSpec(ApiModel):
    """Where and how evaluations run."""

    workers: int | None = Field(
        default=None,
        ge=1,
        le=1024,
        description="Local worker processes; default: all cores. Results do not depend on it.",
    )
    parallelism: int = Field(
        default=4, ge=1, le=1000, description="Cluster: pods of one batch running at once."
    )
    shard_size: int = Field(
        default=50,
        ge=1,
        le=2000,
        description="Cluster: evaluations per pod (one Job index); at most 2,000, so that "
        "a shard's results fit in one ConfigMap.",
    )
    mode: Literal["auto", "distributed", "single"] = Field(
        default="auto",
        description="Cluster: 'distributed' runs one Indexed Job per batch, "
        "'single' runs the whole search in one pod, 'auto' picks by estimated batch cost.",
    )


_DURATION = re.compile(r"^([1-9][0-9]{0,5})(y|mo|w|d|h)$")


def _check_window(value: str | int, name: str) -> str | int:
    if isinstance(value, int):
        if not 2 <= value <= 10**9:
            raise ValueError(f"walkForward.{name} must be from 2 to 10^9 bars; got {value}")
        return value
    match = _DURATION.match(value)
    if not match or int(match[1]) * _UNIT_YEARS[match[2]] > 1000:
        raise ValueError(
            f"walkForward.{name} must be a bar count or a duration like 3y, "
            f"6mo, 2w, 30d or 48h, of at most 1000 years; got {value[:40]!r}"
        )
    return value


#: Each duration unit in years (roughly: only to bound a window).
_UNIT_YEARS = {"y": 1.0, "mo": 1 / 12, "w": 1 / 52, "d": 1 / 365, "h": 1 / 8760}


class WalkForwardSpec(ApiModel):
    """Optimize on a training window, trade the chosen parameters on the next test window,
    roll forward. Positions close at each test window's end; indicators may read bars
    before a window (warm-up) but trading starts at its first bar."""

    train: str | int = Field(
        description="Training window: bars, or a duration like 3y, 6mo, 2w, 30d, 48h.",
        json_schema_extra={"x-kubernetes-int-or-string": True},
    )
    test: str | int = Field(
        description="Test window, same units.",
        json_schema_extra={"x-kubernetes-int-or-string": True},
    )
    step: str | int | None = Field(
        default=None,
        description="How far each fold moves; default the test window.",
        json_schema_extra={"x-kubernetes-int-or-string": True},
    )
    anchored: bool = Field(
        default=False,
        description="Expanding training window from the first bar instead of a rolling one.",
    )
    folds: int | None = Field(
        default=None, ge=1, le=500, description="Keep only the most recent this many folds."
    )
    select: str = Field(
        default="balanced",
        description="Which solution of a fold's search "
        "trades out of sample: 'balanced' (rank 1), 'best' (best first "
        "objective), or an objective's name (best on it).",
    )

    @field_validator("train", "test", "step")
    @classmethod
    def _window(cls, value: str | int | None, info: Any) -> str | int | None:
        return None if value is None else _check_window(value, info.field_name)


class Selection(ApiModel):
    """Which member of the front is best: the one closest to the ideal point once each
    objective is scaled to the front's range (0 at its best end, 1 at its worst) and
    weighted."""

    weights: dict[str, float] = Field(
        default_factory=dict,
        json_schema_extra=_weights_schema,
        description="Weight of each objective in the distance to the ideal point "
        "(objectives left out weigh 1; 0 ignores one), e.g. {net_profit: 2, "
        "max_drawdown: 1} for a trader who minds profit twice as much as drawdown.",
    )


class OptimizationRunSpec(RunSpec):
    """Search the parameters of a backtested strategy."""

    model_config = cel_rules(
        *(
            cel(
                f"self.algorithm.name != '{a.name}' || size(self.objectives) == 1",
                f"{a.name} optimizes exactly one objective",
                ".objectives",
            )
            for a in ALGORITHMS
            if a.single_objective
        ),
        cel(
            "!has(self.selection) || !has(self.selection.weights) || "
            "self.selection.weights.all(k, self.objectives.exists(o, o.name == k))",
            "selection.weights: weigh only metrics listed in objectives",
            ".selection.weights",
        ),
        cel(
            "!has(self.selection) || !has(self.selection.weights) || self.objectives.exists(o, "
            "!(o.name in self.selection.weights) || self.selection.weights[o.name] > 0)",
            "selection.weights: at least one objective must weigh more than 0",
            ".selection.weights",
        ),
    )

    backtest: BacktestSpec = Field(description="The backtest each evaluation runs.")
    parameters: list[ParameterRange] = Field(
        min_length=1,
        max_length=64,
        description="The searched parameters.",
        json_schema_extra=_keyed_by_name,
    )
    objectives: list[Objective] = Field(
        min_length=1,
        max_length=8,
        description="Metrics to optimize, as {name, goal}; several give a Pareto front. "
        "stratopt run also accepts bare metric names.",
    )
    constraints: list[Constraint] = Field(
        default_factory=list,
        max_length=32,
        description="Bounds on metrics, as {metric, op, value}; stratopt run also accepts "
        "'num_trades >= 30'.",
    )
    algorithm: AlgorithmSpec = Field(description="The search algorithm and its settings.")
    seed: int = Field(
        default=0,
        ge=0,
        le=2**32 - 1,
        description="Seed of every random choice; the same seed gives the same result.",
    )
    walk_forward: WalkForwardSpec | None = Field(
        default=None,
        description="Walk-forward "
        "analysis: optimize in sample, trade out of "
        "sample, fold after fold.",
    )
    execution: ExecutionSpec = Field(
        default_factory=ExecutionSpec, description="Workers and cluster execution."
    )
    parameter_constraints: list[str] = Field(
        default_factory=list,
        max_length=32,
        json_schema_extra={
            "items": {"type": "string", "maxLength": 200, "pattern": PARAMETER_CONSTRAINT}
        },
        description="Relations the searched parameters must keep, e.g. 'fast_period < "
        "slow_period' or 'take_profit >= 2 * stop_loss': random, Sobol and LHS samples and "
        "Bayesian proposals never break them, the grid skips the combinations that do, and "
        "NSGA-II counts them as infeasible.",
    )
    min_trades: int = Field(
        default=30,
        ge=0,
        description="Solutions with fewer trades are not offered (front, best, picks) "
        "unless no evaluation has as many; 0 offers them all. The default, 30, is the "
        "fewest trades whose mean result says more than their luck.",
    )
    selection: Selection = Field(
        default_factory=Selection,
        description="How the front's members are ranked, which chooses best (rank 1).",
    )

    @field_validator("objectives", mode="before")
    @classmethod
    def _objective_shorthand(cls, value: object) -> object:
        if isinstance(value, list):
            return [{"name": item} if isinstance(item, str) else item for item in value]
        return value

    @field_validator("parameter_constraints")
    @classmethod
    def _parameter_relations(cls, value: list[str]) -> list[str]:
        for text in value:
            if len(text) > 200:
                raise ValueError(f"{text[:40]!r}…: at most 200 characters")
            ParameterRelation.parse(text)
        return value

    @field_validator("constraints", mode="before")
    @classmethod
    def _constraint_shorthand(cls, value: object) -> object:
        if not isinstance(value, list):
            return value
        parsed = []
        for item in value:
            if isinstance(item, str):
                match = _CONSTRAINT.match(item)
                if not match:
                    raise ValueError(
                        f"constraint {item!r} must look like 'metric >= number' "
                        "or 'metric <= number'"
                    )
                parsed.append({"metric": match[1], "op": match[2], "value": float(match[3])})
            else:
                parsed.append(item)
        return parsed

    @cached_property
    def parameter_relations(self) -> list[ParameterRelation]:
        """``parameter_constraints``, parsed."""
        return [ParameterRelation.parse(text) for text in self.parameter_constraints]

    def parameter_violation(self, parameters: dict[str, float]) -> float:
        """How far ``parameters`` break the parameter constraints (0 when they keep them)."""
        return sum(r.violation(parameters) for r in self.parameter_relations)

    def objective_weights(self) -> list[float]:
        """The selection weight of each objective, in the objectives' order."""
        return [self.selection.weights.get(o.name, 1.0) for o in self.objectives]

    @model_validator(mode="after")
    def _cross_field(self) -> OptimizationRunSpec:
        repeated = first_repeated([p.name for p in self.parameters])
        if repeated is not None:
            raise ValueError(f"parameters: '{repeated}' is listed more than once")
        objectives = [o.name for o in self.objectives]
        if len(set(objectives)) != len(objectives):
            raise ValueError("objectives: each metric may appear once")
        for name, weight in self.selection.weights.items():
            if name not in objectives:
                raise ValueError(
                    f"selection.weights.{name}: not an objective; weigh one of {objectives}"
                )
            if not (weight >= 0 and math.isfinite(weight)):
                raise ValueError(
                    f"selection.weights.{name}: must be a finite number of at least 0; got {weight}"
                )
        searched = [p.name for p in self.parameters]
        for index, text in enumerate(self.parameter_constraints):
            for name in ParameterRelation.parse(text).names:
                if name not in searched:
                    raise ValueError(
                        f"parameterConstraints[{index}]: {name!r} is not a searched "
                        f"parameter; relate only parameters listed in parameters: {searched}"
                    )
        if not any(self.objective_weights()):
            raise ValueError("selection.weights: at least one objective must weigh more than 0")
        if self.walk_forward is not None:
            choices = {"balanced", "best", *objectives}
            if self.walk_forward.select not in choices:
                raise ValueError(
                    f"walkForward.select: must be one of {sorted(choices)}; got "
                    f"{self.walk_forward.select!r}"
                )
        if self.algorithm.settings().single_objective and len(self.objectives) != 1:
            raise ValueError(
                f"objectives: {self.algorithm.name} optimizes exactly one objective; got "
                f"{len(self.objectives)} (use nsga2 for several)"
            )
        problem = limit_problem(self)
        if problem is not None:
            raise ValueError(problem)
        return self


class Progress(ApiModel):
    """How far the search is."""

    evaluations_completed: int = Field(default=0, description="Evaluations done.")
    evaluations_total: int = Field(
        default=0, description="Evaluations planned (upper bound when early stopping is on)."
    )
    batches_completed: int = Field(default=0, description="Batches (generations) done.")
    percent: int = Field(
        default=0, ge=0, le=100, description="Evaluations done, percent of those planned."
    )
    generation: int | None = Field(default=None, description="NSGA-II generation reached.")
    history: list[dict[str, float]] = Field(
        default_factory=list,
        description="Per batch: evaluations, hypervolume, best objective; "
        "at most 200 entries, evenly thinned over longer runs.",
    )


class Solution(ApiModel):
    """One evaluated parameter set."""

    rank: int | None = Field(
        default=None,
        description="1 = best trade-off (closest to the "
        "ideal point in normalized objective space).",
    )
    parameters: dict[str, float] = Field(description="Parameter values.")
    objectives: dict[str, float] = Field(description="Objective values.")
    metrics: dict[str, float] = Field(default_factory=dict, description="All metrics.")
    count: int = Field(
        default=1,
        description="Parameter sets on the front with these objective values (to 6 "
        "significant digits); the one shown is the first of them in trade-off order.",
    )
    flags: list[str] = Field(
        default_factory=list,
        description="Why to distrust this solution, if anything: it loses money, rests "
        "on too few trades, or sits on a bound of a searched range.",
    )


class Picks(ApiModel):
    """Three choices on the front for three temperaments."""

    conservative: Solution | None = Field(
        default=None,
        description="Lowest drawdown among the solutions that make money (net_profit > 0); "
        "the lowest drawdown of all when none does (see note).",
    )
    balanced: Solution | None = Field(default=None, description="The rank-1 trade-off (knee).")
    aggressive: Solution | None = Field(default=None, description="Highest profit.")
    note: str | None = Field(
        default=None, description="Set when no solution on the front makes money."
    )

    def chosen(self) -> list[Solution]:
        """The picks that are set."""
        return [s for s in (self.conservative, self.balanced, self.aggressive) if s is not None]


class Diagnostics(ApiModel):
    """How much of the best result could be luck."""

    deflated_sharpe: float = Field(
        description="Probability that the best solution's Sharpe "
        "ratio beats the best of this many unskilled trials "
        "(Bailey & López de Prado, 2014); above 0.95 is significant."
    )
    sharpe: float = Field(description="The best solution's annualized Sharpe ratio.")
    expected_max_sharpe: float = Field(
        description="Annualized Sharpe ratio the best of this "
        "many unskilled trials reaches by luck."
    )
    trials: int = Field(description="Evaluations behind the selection.")
    skewness: float = Field(description="Skewness of the best solution's bar returns.")
    kurtosis: float = Field(description="Kurtosis (not excess) of those returns.")
    pbo: float | None = Field(
        default=None,
        description="Probability of backtest overfitting "
        "by combinatorially symmetric cross-validation (Bailey et al., "
        "2015): how often the in-sample winner ranks in the bottom half "
        "out of sample. Above 0.5: the search mostly fits noise.",
    )
    pbo_configurations: int | None = Field(
        default=None, description="Configurations compared (a bounded, evenly spread sample)."
    )
    pbo_blocks: int | None = Field(default=None, description="Time blocks of the CSCV split.")


class Robustness(ApiModel):
    """How a pick holds up when the world is a little less kind than its backtest."""

    parameters: dict[str, float] = Field(description="The pick's parameters.")
    extra_slippage: float = Field(
        description="Slippage added per fill for `friction`, in pips: one tick."
    )
    friction: dict[str, float] = Field(
        description="Every metric again with that much more slippage on each fill."
    )
    objective: str = Field(description="The first objective, judged over the neighbourhood.")
    value: float = Field(description="The pick's own value of that objective.")
    neighbours: int = Field(
        description="Neighbouring parameter sets evaluated: each searched parameter "
        "moved one small step (its step, or 2.5% of its range) either way."
    )
    neighbourhood_median: float | None = Field(
        default=None, description="Median of the objective over the neighbours."
    )
    neighbourhood_worst: float | None = Field(
        default=None, description="Worst value of the objective over the neighbours."
    )
    extreme_fill_profit_share: float = Field(
        description="Share of the net profit made by trades that survived their entry bar "
        "only because they were filled at its extreme: entered at an open equal to the "
        "bar's low (long) or high (short) with a stop inside the bar's range (0 when they "
        "lose; above 1 when they make more than all trades together). Near or above 1, the "
        "profit is an artifact of how OHLC bars are made."
    )
    extreme_fill_trade_share: float = Field(
        default=0.0,
        description="Those trades' share of all the trades that survived their entry bar.",
    )


class FoldResult(ApiModel):
    """One walk-forward fold."""

    fold: int = Field(description="Fold number, from 1.")
    train_start: str = Field(description="First training bar (RFC 3339).")
    train_end: str = Field(description="Last training bar.")
    test_start: str = Field(description="First test bar.")
    test_end: str = Field(description="Last test bar.")
    parameters: dict[str, float] = Field(description="Parameters chosen in sample.")
    in_sample: dict[str, float] = Field(description="Their metrics on the training window.")
    out_of_sample: dict[str, float] = Field(description="Their metrics on the test window.")
    partial: bool | None = Field(
        default=None,
        description="True when the data ends before this test window does: the last "
        "fold tests the data to its end, on a shorter window.",
    )
    benchmark: dict[str, float] | None = Field(
        default=None,
        description="Buy-and-hold of the instrument over the test window (total_return, "
        "cagr, max_drawdown, sharpe_ratio).",
    )


class ParameterSpread(ApiModel):
    """How a parameter moved across folds."""

    mean: float = Field(description="Mean over folds.")
    std: float = Field(description="Standard deviation over folds.")
    min: float = Field(description="Smallest value chosen.")
    max: float = Field(description="Largest value chosen.")
    relative_spread: float = Field(
        description="std over the width of the searched range: 0 = perfectly stable."
    )


class WalkForwardSummary(ApiModel):
    """The stitched out-of-sample result."""

    metrics: dict[str, float] = Field(
        description="Metrics of the stitched out-of-sample "
        "equity curve (trade counts summed over folds)."
    )
    efficiency: float = Field(
        description="Annualized out-of-sample return over the mean "
        "annualized in-sample return (0 when in-sample is not positive)."
    )
    parameter_stability: dict[str, ParameterSpread] = Field(
        description="Spread of each parameter across folds."
    )


class WalkForwardStatus(ApiModel):
    """Walk-forward folds and their summary."""

    folds: list[FoldResult] = Field(description="Every fold, in time order.")
    summary: WalkForwardSummary = Field(description="The out-of-sample summary.")


class OptimizationRunStatus(RunStatus):
    """What the search found, written by the operator (or printed by stratopt run)."""

    algorithm: str | None = Field(default=None, description="The algorithm that ran.")
    progress: Progress = Field(default_factory=Progress, description="Progress.")
    pareto_front: list[Solution] = Field(
        default_factory=list,
        description="Non-dominated solutions, best rank first; of a front of more than "
        "100, 100 spread evenly along the first objective (both ends and rank 1 among them).",
    )
    pareto_front_size: int = Field(
        default=0, description="Distinct solutions on the whole front (see count)."
    )
    best: Solution | None = Field(default=None, description="The rank-1 solution.")
    best_summary: str | None = Field(
        default=None, description="The rank-1 solution's objectives in one line, for kubectl get."
    )
    picks: Picks | None = Field(
        default=None, description="Conservative, balanced, aggressive choices."
    )
    best_parameters: dict[str, float] | None = Field(
        default=None, description="One objective: the best parameters."
    )
    best_objective_value: float | None = Field(
        default=None, description="One objective: its best value."
    )
    iterations_completed: int | None = Field(
        default=None, description="One objective: evaluations done."
    )
    diagnostics: Diagnostics | None = Field(
        default=None, description="Overfitting diagnostics of the best solution and the search."
    )
    benchmark: dict[str, float] | None = Field(
        default=None,
        description="Buy-and-hold of the same instrument over the same bars (from the first "
        "close to the last, fully invested, no costs): total_return and cagr (percent), "
        "max_drawdown (percent), sharpe_ratio.",
    )
    robustness: dict[str, Robustness] = Field(
        default_factory=dict,
        description="Each pick (conservative, balanced, aggressive) re-run with one more "
        "tick of slippage and at neighbouring parameters.",
    )
    walk_forward: WalkForwardStatus | None = Field(
        default=None, description="Walk-forward folds and summary."
    )
    evaluations_kept: int | None = Field(
        default=None,
        description="On a cluster, the evaluations the finished run keeps for reports and "
        "the client (its <name>-<revision>-evaluations ConfigMap): every one, or an even "
        "sample over the search that fits etcd's budget of a finished run.",
    )


class OptimizationRun(Resource):
    """The OptimizationRun resource: searches strategy parameters."""

    crd = CrdInfo(
        kind="OptimizationRun",
        plural="optimizationruns",
        short_names=("optrun",),
        spec=OptimizationRunSpec,
        status=OptimizationRunStatus,
        local_paths=(("backtest", "data", "source"),),
        description="Searches the parameters of a backtested trading strategy and reports "
        "the Pareto front (several objectives) or the best point (one objective).",
        printer_columns=(
            {"name": "Algorithm", "type": "string", "jsonPath": ".spec.algorithm.name"},
            {"name": "Phase", "type": "string", "jsonPath": ".status.phase"},
            {
                "name": "Progress",
                "type": "integer",
                "jsonPath": ".status.progress.percent",
                "description": "Percent of planned evaluations done.",
            },
            {"name": "Best", "type": "string", "jsonPath": ".status.bestSummary"},
            condition_column("Reason", "Succeeded", "reason", priority=1),
            {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"},
        ),
    )
