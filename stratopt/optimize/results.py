"""Turn evaluations into the status a user reads: front, ranks, picks, best, progress.

Pure functions: the local command and the operator build the same status from the
same evaluations.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from stratopt.api.v1alpha1 import (
    Goal,
    OptimizationRunSpec,
    OptimizationRunStatus,
    Picks,
    Progress,
    Solution,
)
from stratopt.api.v1alpha1.status import Phase
from stratopt.backtest.metrics import INFEASIBLE, too_few_trades
from stratopt.optimize.driver import Evaluation
from stratopt.optimize.objectives import feasible_mask, minimized, violations
from stratopt.optimize.pareto import (
    RunningFront,
    non_dominated,
    objective_key,
    trade_off_order,
)

#: Front entries kept in status; the whole front stays with the evaluations.
FRONT_LIMIT = 100
#: History entries kept in status, so that it stays small however many batches run.
HISTORY_LIMIT = 200


def thinned(
    history: Sequence[dict[str, float]], limit: int = HISTORY_LIMIT
) -> list[dict[str, float]]:
    """At most ``limit`` entries, evenly spaced, always with the first and the last."""
    if len(history) <= limit:
        return list(history)
    keep = np.unique(np.linspace(0, len(history) - 1, limit).round().astype(int))
    return [history[i] for i in keep]


@dataclass(frozen=True)
class BatchProgress:
    """Where a search stands after a batch: what its progress callback is given."""

    batch: int  # batches done, this one included
    evaluations: int  # evaluations done
    planned: int  # evaluations the search makes at most
    generation: int | None = None  # a genetic search's
    member: str | None = None  # the driver an ensemble runs now
    best_objective: float | None = None  # the best first objective so far
    hypervolume: float | None = None  # of the front so far, several objectives

    def status(self) -> Progress:
        """As status shows it while the run works."""
        return search_progress(
            self.evaluations, self.planned, self.batch, generation=self.generation
        )


#: What a search calls after each batch.
ProgressCallback = Callable[[BatchProgress], None]


class ProgressTracker:
    """Per-batch progress history: evaluations, hypervolume and best objective so far."""

    def __init__(self, spec: OptimizationRunSpec) -> None:
        self.spec = spec
        self.history: list[dict[str, float]] = []
        self._front = RunningFront(len(spec.objectives))
        self._seen = 0

    def record(self, evaluations: Sequence[Evaluation]) -> dict[str, float]:
        """Record the batch that ``evaluations`` (all so far, in order) ends with."""
        fresh = evaluations[self._seen :]
        self._seen = len(evaluations)
        objectives = minimized(self.spec, fresh)
        self._front.add(objectives, feasible_mask(self.spec, fresh))
        entry: dict[str, float] = {
            "batch": float(len(self.history) + 1),
            "evaluations": float(len(evaluations)),
        }
        if len(self._front.points):
            entry["hypervolume"] = self._front.hypervolume()
            first = self.spec.objectives[0]
            best = self._front.points[:, 0].min()
            entry["bestObjective"] = float(best if first.direction is Goal.MINIMIZE else -best)
        self.history.append(entry)
        return entry


def search_progress(
    done: int,
    planned: int,
    batches: int,
    *,
    generation: int | None = None,
    history: Sequence[dict[str, float]] = (),
) -> Progress:
    """How far a search is, as status shows it (during the run and at its end)."""
    return Progress(
        evaluations_completed=done,
        evaluations_total=planned,
        batches_completed=batches,
        generation=generation,
        percent=min(100, round(100 * done / max(planned, 1))),
        history=thinned(history),
    )


def _solution(spec: OptimizationRunSpec, evaluation: Evaluation, rank: int | None) -> Solution:
    return Solution(
        rank=rank,
        parameters=dict(evaluation.parameters),
        objectives={o.name: evaluation.metrics[o.name] for o in spec.objectives},
        metrics=dict(evaluation.metrics),
    )


def distinct(spec: OptimizationRunSpec, ordered: Sequence[Evaluation]) -> list[Solution]:
    """Front members in trade-off order, those with equal objective values (to
    ``OBJECTIVE_DIGITS`` significant digits) collapsed into the first, which counts them."""
    kept: dict[tuple[str, ...], Solution] = {}
    for evaluation in ordered:
        key = objective_key([evaluation.metrics[o.name] for o in spec.objectives])
        if key in kept:
            kept[key].count += 1
        else:
            kept[key] = _solution(spec, evaluation, len(kept) + 1)
    return list(kept.values())


def spread(spec: OptimizationRunSpec, front: Sequence[Solution], limit: int) -> list[Solution]:
    """At most ``limit`` front members spread evenly along the first objective, both ends
    and rank 1 among them, in rank order: the trade-off at a glance, not the members
    crowded around the best."""
    if len(front) <= limit:
        return list(front)
    along = sorted(front, key=lambda s: s.objectives[spec.objectives[0].name])
    chosen = np.unique(np.linspace(0, len(along) - 1, limit - 1).round().astype(int))
    shown = [along[i] for i in chosen]
    best = min(front, key=lambda s: s.rank or 0)
    if not any(s is best for s in shown):
        shown.append(best)
    return sorted(shown, key=lambda s: s.rank or 0)


#: A float parameter this close to a bound, as a share of its range, sits on the bound.
BOUND_TOLERANCE = 0.01


def choose_picks(solutions: Sequence[Solution]) -> Picks:
    """Three picks on a front in trade-off order: the least drawdown among the solutions
    that make money, the rank-1 trade-off, the most profit. A front where nothing makes
    money gets its least drawdown as the conservative pick, and a note that says so."""
    profitable = [s for s in solutions if s.metrics["net_profit"] > 0]
    note = None
    if not profitable:
        note = "no solution on the front makes money"
    return Picks(
        conservative=min(
            profitable or solutions, key=lambda s: (s.metrics["max_drawdown"], s.rank or 0)
        ),
        balanced=solutions[0],
        aggressive=max(solutions, key=lambda s: (s.metrics["net_profit"], -(s.rank or 0))),
        note=note,
    )


def bound_flags(spec: OptimizationRunSpec, parameters: dict[str, float]) -> list[str]:
    """The searched parameters that sit on a bound of their range: the range likely cuts
    off better values."""
    found = []
    for searched in spec.parameters:
        value = parameters.get(searched.name)
        if value is None or searched.min is None or searched.max is None:
            continue
        margin = (searched.max - searched.min) * BOUND_TOLERANCE
        for side, bound, near in (
            ("lower", searched.min, value <= searched.min + margin),
            ("upper", searched.max, value >= searched.max - margin),
        ):
            if near:
                found.append(
                    f"{searched.name} = {value:g} sits on the {side} bound of its range "
                    f"({bound:g}): widen the range past {bound:g} where the parameter allows, "
                    "else distrust a best that the edge of its range produced"
                )
    return found


def solution_flags(spec: OptimizationRunSpec, solution: Solution) -> list[str]:
    """What makes ``solution`` hard to trust, if anything."""
    metrics = solution.metrics
    flags = []
    if metrics["net_profit"] <= 0:
        flags.append(f"loses money: net_profit {metrics['net_profit']:,.2f}")
    if (few := too_few_trades(metrics)) is not None:
        flags.append(f"{few} cannot tell skill from luck")
    return flags + bound_flags(spec, solution.parameters)


def front_warnings(
    spec: OptimizationRunSpec, solutions: Sequence[Solution], best: Solution
) -> list[str]:
    """A front that loses everywhere, and a best on the edge of its search space."""
    found = []
    if all(s.metrics["net_profit"] <= 0 for s in solutions):
        top = max(s.metrics["net_profit"] for s in solutions)
        found.append(
            f"no solution on the front makes money (the most profitable nets {top:,.2f}): "
            "the strategy has no edge on this data with these ranges and costs"
        )
    for flag in bound_flags(spec, best.parameters):
        found.append(f"best: {flag}")
    if (few := too_few_trades(best.metrics)) is not None:
        found.append(
            f"best: {few}, its metrics are mostly luck; use more data or ranges that trade more"
        )
    return found


def summarize(
    spec: OptimizationRunSpec,
    evaluations: Sequence[Evaluation],
    *,
    planned: int,
    batches: int,
    history: Sequence[dict[str, float]] = (),
    generation: int | None = None,
) -> OptimizationRunStatus:
    """The status of a search that evaluated ``evaluations``."""
    unique: dict[tuple[float, ...], Evaluation] = {}
    for e in evaluations:
        unique.setdefault(tuple(e.parameters.values()), e)
    candidates = list(unique.values())
    objectives = minimized(spec, candidates)
    feasible = np.flatnonzero(feasible_mask(spec, candidates))
    warnings = []
    if candidates and all(e.metrics["num_trades"] == 0 for e in candidates):
        warnings.append(
            "no evaluation traded: the strategy never opened a position with any parameters "
            "searched; check its parameters, the data, and pipSize/tickSize"
        )
    # Refused combinations that a parameter constraint already rules out are expected.
    refused = sum(
        1
        for e in candidates
        if e.metrics.get(INFEASIBLE) and spec.parameter_violation(e.parameters) == 0
    )
    if refused:
        warnings.append(
            f"{refused} of {len(candidates)} parameter sets evaluated are combinations the "
            "strategy refuses: counted as infeasible and kept off the front; "
            "spec.parameterConstraints (e.g. 'fast_period < slow_period') skips them"
        )
    if len(feasible) == 0 and candidates:
        # Nothing satisfies the constraints: report the least violating solutions instead.
        violation = violations(spec, candidates).sum(axis=1)
        feasible = np.flatnonzero(violation == violation.min())
        warnings.append(
            "no evaluation met every constraint; the front holds the least violating ones"
        )
    trading = np.array([e.metrics["num_trades"] >= spec.min_trades for e in candidates], bool)
    if trading[feasible].any():  # else every one is idle: offer them, as the warning says
        feasible = feasible[trading[feasible]]
    front = feasible[non_dominated(objectives[feasible])]
    order = front[trade_off_order(objectives[front], spec.objective_weights())]
    solutions = distinct(spec, [candidates[i] for i in order])
    status = OptimizationRunStatus(
        phase=Phase.SUCCEEDED,
        algorithm=spec.algorithm.name,
        progress=search_progress(
            len(evaluations), planned, batches, generation=generation, history=history
        ),
        pareto_front=spread(spec, solutions, FRONT_LIMIT),
        pareto_front_size=len(solutions),
        warnings=warnings,
    )
    if not solutions:
        return status
    best = solutions[0]
    status.best = best
    status.best_summary = " ".join(f"{name}={value:.4g}" for name, value in best.objectives.items())
    status.picks = choose_picks(solutions)
    # The front shown, and the picks and best (which may lie outside it), once each.
    shown = {id(s): s for s in (*status.pareto_front, best, *status.picks.chosen())}
    for solution in shown.values():
        solution.flags = solution_flags(spec, solution)
    status.warnings += front_warnings(spec, solutions, best)
    if len(spec.objectives) == 1:
        status.best_parameters = dict(best.parameters)
        status.best_objective_value = best.objectives[spec.objectives[0].name]
        status.iterations_completed = len(evaluations)
    return status
