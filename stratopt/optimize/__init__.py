"""Search: spaces, ask/tell drivers for every algorithm, Pareto tools and results."""

from stratopt.optimize.algorithms import DRIVERS
from stratopt.optimize.driver import Driver, Evaluation, ReplayMismatchError
from stratopt.optimize.results import ProgressTracker, summarize
from stratopt.optimize.space import SearchSpace, check_space_against_strategy

__all__ = [
    "DRIVERS",
    "Driver",
    "Evaluation",
    "ProgressTracker",
    "ReplayMismatchError",
    "SearchSpace",
    "check_space_against_strategy",
    "summarize",
]
