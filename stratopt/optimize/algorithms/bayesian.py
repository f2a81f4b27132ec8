"""Bayesian optimization with scikit-optimize's ``Optimizer`` (Gaussian process).

scikit-optimize is archived upstream but works with current numpy and scikit-learn; it
stays behind this driver so another backend can replace it without touching callers.
"""

from __future__ import annotations

import contextlib
import warnings

import numpy as np
from skopt import Optimizer
from skopt.space import Categorical, Integer, Real
from skopt.utils import cook_estimator
from threadpoolctl import ThreadpoolController

from stratopt.api.v1alpha1 import BayesianSettings, ParameterType
from stratopt.optimize.driver import Driver, Evaluation
from stratopt.optimize.space import Params

# What a point that breaks a constraint scores: worse than anything feasible seen, by
# an amount that grows with the violation, so the model learns to avoid the region.
_PENALTY = 1e3
#: Variance added to the kernel's diagonal (outputs are normalized) for stability.
_JITTER = 1e-8
#: numpy's and scipy's BLAS, loaded by now (skopt imports both).
_BLAS = ThreadpoolController()


def _one_blas_thread() -> contextlib.AbstractContextManager[object]:
    """The model's matrices are at most iterations × iterations: on one thread BLAS is as
    fast, where with one per core its threads spin after each call, waiting for more
    (in benchmarks/bayesian.py, half the driver's CPU time on two cores)."""
    limited: contextlib.AbstractContextManager[object] = _BLAS.limit(limits=1, user_api="blas")
    return limited


class BayesianDriver(Driver):
    """One objective; ``batchSize`` points per batch (constant liar above one)."""

    def _setup(self) -> None:
        settings = self.settings_of(BayesianSettings)
        self.settings = settings
        self.iterations = self.budget if self.budget is not None else settings.iterations
        initial = min(settings.initial_points, self.iterations)
        dimensions = []
        for r in self.space.ranges:
            if r.type is ParameterType.CATEGORICAL:
                assert r.values is not None
                dimensions.append(Categorical([float(v) for v in r.values], name=r.name))
            elif r.type is ParameterType.INT:
                assert r.min is not None and r.max is not None
                prior = "log-uniform" if r.log else "uniform"
                dimensions.append(Integer(int(r.min), int(r.max), prior=prior, name=r.name))
            else:
                assert r.min is not None and r.max is not None
                prior = "log-uniform" if r.log else "uniform"
                dimensions.append(Real(r.min, r.max, prior=prior, name=r.name))
        # The initial design is a Latin hypercube drawn here rather than by skopt, whose
        # rounding of normalized coordinates draws an integer range's ends half as often.
        from scipy.stats import qmc

        def draw(count: int) -> list[Params]:
            sampler = qmc.LatinHypercube(self.space.dimensions, seed=self.seed)
            return self.space.from_unit(sampler.random(count))

        self._design = self.allowed_sample(draw, initial) if initial else []
        random_state = np.random.RandomState(self.seed)
        # A backtest is deterministic: a fixed jitter instead of a learned noise term,
        # which smooths over the narrow optima of a Sharpe surface. One restart of the
        # kernel fit, 2,000 candidates and two L-BFGS restarts per acquisition (gp_hedge
        # optimizes three on every tell): in benchmarks/bayesian.py this halves the
        # driver's time per iteration and narrows the gap to the exhaustive best.
        model = cook_estimator(
            "GP",
            space=dimensions,
            random_state=random_state,
            noise=_JITTER,
            n_restarts_optimizer=1,
        )
        self.optimizer = Optimizer(
            dimensions,
            base_estimator=model,
            acq_func=settings.acquisition,
            n_initial_points=0,
            random_state=random_state,
            acq_optimizer_kwargs={"n_restarts_optimizer": 2, "n_points": 2000},
            space_constraint=self._keeps_relations if self.spec.parameter_relations else None,
        )
        self._asked: list[list[float]] = []

    def _ask(self) -> list[Params]:
        remaining = self.iterations - len(self.evaluations)
        if remaining <= 0:
            return []
        count = min(self.settings.batch_size, remaining)
        designed = len(self.evaluations)
        if designed < len(self._design):
            chosen = self._design[designed : designed + count]
            self._asked = [self._skopt_point(p) for p in chosen]
            return chosen
        with warnings.catch_warnings(), _one_blas_thread():
            # The GP warns when it proposes a point it has already seen; harmless here.
            warnings.simplefilter("ignore", UserWarning)
            points = (
                self.optimizer.ask(n_points=count, strategy="cl_min")
                if count > 1
                else [self.optimizer.ask()]
            )
        self._asked = [list(p) for p in points]
        return [self.space.decode(self._point(p)) for p in points]

    def _keeps_relations(self, values: list[float]) -> bool:
        """Whether a point skopt considers keeps the parameter constraints."""
        return self.allowed(self.space.decode(self._point(list(values))))

    def _skopt_point(self, params: Params) -> list[float]:
        return [
            int(params[r.name]) if r.type is ParameterType.INT else params[r.name]
            for r in self.space.ranges
        ]

    def _point(self, values: list[float]) -> list[float]:
        point = []
        for r, value in zip(self.space.ranges, values, strict=True):
            if r.type is ParameterType.CATEGORICAL:
                assert r.values is not None
                point.append(float(r.values.index(value)))
            else:
                point.append(float(np.log(value)) if r.log else float(value))
        return point

    def _tell(self, batch: list[Evaluation]) -> None:
        scores = self.objective_matrix(batch)[:, 0]
        violations = self.violation_matrix(batch).sum(axis=1)
        told = [
            s
            for s, v in zip(
                self.objective_matrix(self.evaluations)[:, 0],
                self.violation_matrix(self.evaluations).sum(axis=1),
                strict=True,
            )
            if v <= 0
        ]
        worst = max(told) if told else float(scores.max())
        scores = np.where(violations > 0, worst + _PENALTY * (1.0 + violations), scores)
        with warnings.catch_warnings(), _one_blas_thread():
            warnings.simplefilter("ignore", UserWarning)
            # No model is fitted on a part of the initial design: it would be thrown away.
            fit = len(self.evaluations) >= len(self._design)
            self.optimizer.tell(self._asked, [float(s) for s in scores], fit=fit)


DRIVER = BayesianDriver
