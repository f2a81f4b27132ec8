"""The worker: read a run from the API, execute one step of it, write what it found to
ConfigMaps.

Inputs come from the API only (no mounted files), so the worker needs nothing but its
image and its ServiceAccount. Each step is a function of a :class:`Store` (the API, or a
dictionary in tests) and a typed :class:`Task`; ``main`` only parses the command line.
Bad input exits with status 2 and a JSON report naming what to fix, which becomes the
pod's termination message; the Job's podFailurePolicy then fails the run at once instead
of retrying.
"""

from __future__ import annotations

import argparse
import contextlib
import enum
import json
import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from stratopt.api.kinds import DEFAULT_KIND, PLURALS
from stratopt.errors import InputError, StratoptError
from stratopt.jobs._cluster import ApiError, Cluster
from stratopt.runtime.protocol import (
    BAD_INPUT_EXIT_CODE,
    BATCH_LABEL,
    TERMINATION_LOG,
    WorkerFailure,
    failure_report,
    owner_reference,
    result_labels,
    revision,
    run_selector,
)
from stratopt.runtime.resources import run_resource
from stratopt.runtime.stored import (
    INPUT_WAIT_SECONDS,
    ResultMissingError,
    encode_evaluations,
    encode_fold,
    evaluations_name,
    fold_count,
    fold_result_name,
    holds_metrics,
    holds_status,
    plan_name,
    progress_data,
    progress_name,
    read_shard_input,
    result_name,
    shard_input_name,
    shard_input_part,
    shard_metrics,
    shard_result_name,
    status_data,
)

if TYPE_CHECKING:
    from stratopt.api.v1alpha1 import OptimizationRunSpec
    from stratopt.optimize.results import BatchProgress
    from stratopt.runtime.optimization import OptimizationOutcome
    from stratopt.runtime.stored import StoredResults

#: Least seconds between two progress reports of a single-mode search.
PROGRESS_SECONDS = 2.0


class Store(Protocol):
    """What a worker reads and writes: :class:`Cluster` in a pod."""

    def resource(self, kind: str, namespace: str, name: str) -> dict[str, Any]: ...

    def config_map_data(self, namespace: str, name: str) -> dict[str, str]: ...

    def config_maps_data(self, namespace: str, selector: str) -> StoredResults: ...

    def await_config_map(
        self, namespace: str, name: str, seconds: float
    ) -> dict[str, str] | None: ...

    def store_config_map(self, namespace: str, configmap: dict[str, Any]) -> None: ...


class WorkerStep(enum.Enum):
    """What a worker pod does, one per kind of Job the operator creates."""

    RUN = "run"  # a whole run in one pod (single mode, features, forecasts)
    EVALUATE = "evaluate"  # one shard of a distributed search's batch
    FOLD = "fold"  # one walk-forward fold
    FINALIZE = "finalize"  # a distributed search's status from its stored results


@dataclass(frozen=True)
class Task:
    """One worker's work: a step of one revision of one run.

    ``index`` is the pod's completion index in an Indexed Job (its shard or fold);
    ``batch`` and ``shards_per_input`` locate an evaluated shard's input, which the pod
    waits for up to ``input_wait`` seconds.
    """

    step: WorkerStep
    kind: str
    name: str
    namespace: str
    revision: str
    index: int = 0
    batch: int = 0
    shards_per_input: int = 1
    input_wait: float = INPUT_WAIT_SECONDS


class Worker:
    """The steps of ``task`` against ``store``, for the run ``body`` (as the API serves it)."""

    def __init__(self, store: Store, task: Task, body: dict[str, Any]) -> None:
        self.store, self.task, self.body = store, task, body
        self.owner = owner_reference(task.kind, task.name, body["metadata"]["uid"])
        self.labels = result_labels(task.name, task.revision)

    def write(self, name: str, data: dict[str, str], labels: dict[str, str] | None = None) -> None:
        """Create or replace ConfigMap ``name``, owned by the run, found by its selector
        (and by any more ``labels``)."""
        metadata = {
            "name": name,
            "namespace": self.task.namespace,
            "labels": {**self.labels, **(labels or {})},
            "ownerReferences": [self.owner],
        }
        configmap = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": metadata, "data": data}
        self.store.store_config_map(self.task.namespace, configmap)

    def _search(self) -> OptimizationRunSpec:
        from stratopt.api import parse_model
        from stratopt.api.v1alpha1 import OptimizationRunSpec

        return parse_model(OptimizationRunSpec, self.body["spec"], "spec")

    def run(self) -> None:
        """The whole run here; its status into the result ConfigMap."""
        task = self.task
        if task.kind == "ForecastRun":
            spec, unskilled = self.resolve_analysis(self.body["spec"])
            status = run_resource(task.kind, spec)
            if unskilled is not None:
                status["warnings"] = [unskilled, *status.get("warnings", [])]
        elif task.kind == "OptimizationRun":
            from stratopt.runtime.optimization import run_optimization

            outcome = run_optimization(self._search(), on_batch=ProgressReport(self))
            status = self.keep_evaluations(outcome)
        else:
            status = run_resource(task.kind, self.body["spec"], ProgressReport(self))
        self.write(result_name(task.name, task.revision), status_data(status))

    def keep_evaluations(self, outcome: OptimizationOutcome) -> dict[str, Any]:
        """Store the search's evaluations (within etcd's budget) beside its status; the
        status document, saying how many were kept."""
        task = self.task
        rows = [{**e.parameters, **e.metrics} for e in outcome.evaluations]
        data, kept = encode_evaluations(rows)
        self.write(evaluations_name(task.name, task.revision), data)
        status = outcome.status.model_dump(mode="json", by_alias=True, exclude_none=True)
        return {**status, "evaluationsKept": kept}

    def resolve_analysis(self, spec: dict[str, Any]) -> tuple[dict[str, Any], str | None]:
        """A ForecastRun spec whose ``fromFeatureAnalysis`` (the name of a FeatureAnalysis
        in the same namespace) is replaced by that analysis's topFeatures, and a warning
        when that analysis has no skill."""
        from stratopt.api.documents import (
            FIELD,
            analysis_skill_warning,
            with_analysis_features,
        )

        name = spec.get("fromFeatureAnalysis")
        if not name:
            return spec, None
        namespace = self.task.namespace
        try:
            analysis = self.store.resource("FeatureAnalysis", namespace, name)
        except ApiError as exc:
            if exc.status == 404:
                raise InputError(FIELD, f"no FeatureAnalysis {name!r} in {namespace}") from exc
            raise
        status = analysis.get("status") or {}
        top = status.get("topFeatures")
        if not top:
            raise InputError(FIELD, f"FeatureAnalysis {name!r} has no topFeatures")
        return with_analysis_features(spec, top), analysis_skill_warning(name, status)

    def evaluate(self) -> None:
        """Evaluate this pod's shard of one batch; store its metrics in order."""
        from stratopt.runtime.optimization import prepare, upper_corner

        task = self.task
        spec = self._search()
        backtester = prepare(spec)
        folds = None
        if task.batch == 0 and task.index == 0:
            # What fails the run fails it before any work: look-ahead, windows that fit no fold.
            from stratopt.runtime.checks import probe_parameter_sets, probe_strategy

            probe_strategy(backtester, probe_parameter_sets(spec, backtester))
            if spec.walk_forward is not None:
                from stratopt.optimize.walkforward import checked_folds

                folds = checked_folds(spec, backtester.data.index)
        part = shard_input_part(task.index, task.shards_per_input)
        name = shard_input_name(task.name, task.revision, task.batch, part)
        inputs = self.store.await_config_map(task.namespace, name, 0)
        if inputs is None:
            # Started ahead of its batch: compile while the batch before runs, then wait.
            backtester.evaluate_candidate(upper_corner(spec))
            _mark("waiting")
            inputs = self.store.await_config_map(task.namespace, name, task.input_wait)
        batch = None if inputs is None else read_shard_input(inputs, task.index)
        if batch is None:
            raise ResultMissingError(
                f"batch {task.batch}: the input of shard {task.index} is missing ({name}"
                + (f", waited {task.input_wait:g} s)" if inputs is None else ")")
            )
        metrics = [backtester.evaluate_candidate(params) for params in batch[:1]]
        if batch:
            # These marks time the pod's start-up, when a batch's evaluation begins and
            # when its result is stored (benchmarks/operator_overhead.py reads them).
            _mark("first-evaluation")
        metrics += [backtester.evaluate_candidate(params) for params in batch[1:]]
        if folds is not None:
            self.write(plan_name(task.name, task.revision), fold_count(len(folds)))
        self.write(
            shard_result_name(task.name, task.revision, task.batch, task.index),
            shard_metrics(metrics),
            {BATCH_LABEL: str(task.batch)},
        )
        _mark("stored")

    def fold(self) -> None:
        """Run the walk-forward fold of this pod's index; store its outcome."""
        from stratopt.optimize.walkforward import fold_windows
        from stratopt.runtime.optimization import prepare
        from stratopt.runtime.walkforward import run_fold

        task = self.task
        spec = self._search()
        if spec.walk_forward is None:
            raise InputError("spec.walkForward", "a fold Job runs only for a walk-forward search")
        backtester = prepare(spec)
        folds = fold_windows(backtester.data.index, spec.walk_forward)
        if task.index >= len(folds):
            raise ResultMissingError(f"fold {task.index}: the data gives {len(folds)} folds")
        outcome = run_fold(spec, backtester, folds[task.index])
        self.write(fold_result_name(task.name, task.revision, task.index), encode_fold(outcome))

    def finalize(self) -> None:
        """A distributed search's status: the local code path over the stored results,
        each batch checked to be the one the search asks before it is told."""
        from stratopt.runtime.distributed import StoredExecutor
        from stratopt.runtime.optimization import run_optimization

        task = self.task
        results = self.store.config_maps_data(
            task.namespace, run_selector(task.name, task.revision)
        )
        executor = StoredExecutor(results, task.name, task.revision)
        outcome = run_optimization(self._search(), executor=executor)
        document = self.keep_evaluations(outcome)
        self.write(result_name(task.name, task.revision), status_data(document))


def _mark(event: str) -> None:
    """Log when ``event`` happened, and the CPU time the process had used by then."""
    print(json.dumps({"event": event, "at": time.time(), "cpu": time.process_time()}), flush=True)


class ProgressReport:
    """Writes a search's progress to its ConfigMap after a batch, at most every few
    seconds, for the operator to show in status while the pod works."""

    def __init__(self, worker: Worker, clock: Callable[[], float] = time.monotonic) -> None:
        self.worker, self.clock = worker, clock
        self.written: float | None = None

    def __call__(self, done: BatchProgress) -> None:
        if self.written is not None and self.clock() - self.written < PROGRESS_SECONDS:
            return
        progress = done.status().model_dump(mode="json", by_alias=True, exclude_none=True)
        task = self.worker.task
        self.worker.write(progress_name(task.name, task.revision), progress_data(progress))
        self.written = self.clock()


_STEPS: dict[WorkerStep, Callable[[Worker], None]] = {
    WorkerStep.RUN: Worker.run,
    WorkerStep.EVALUATE: Worker.evaluate,
    WorkerStep.FOLD: Worker.fold,
    WorkerStep.FINALIZE: Worker.finalize,
}


def work(store: Store, task: Task) -> WorkerFailure | None:
    """Do ``task``; None once done (or when the run's spec has moved on, so there is
    nothing to do), else why the input cannot be run."""
    body = store.resource(task.kind, task.namespace, task.name)
    if revision(body["spec"]) != task.revision:
        print(f"{task.kind} {task.name}'s spec has changed; nothing to do", file=sys.stderr)
        return None
    if already_stored(store, task):
        print(f"{task.kind} {task.name}: what this pod stores is stored already", file=sys.stderr)
        return None
    try:
        _STEPS[task.step](Worker(store, task, body))
    except StratoptError as exc:
        field = exc.field if isinstance(exc, InputError) else None
        return WorkerFailure(exc.reason, str(exc).splitlines()[0], field)
    return None


def already_stored(store: Store, task: Task) -> bool:
    """Whether what ``task`` stores (a run's status, a shard's metrics) is there already:
    a pod retried after its first one stored it (that pod's end lost with a node
    restart, say) has nothing to do, and ends at once instead of running it again."""
    if task.step in (WorkerStep.RUN, WorkerStep.FINALIZE):
        name, holds = result_name(task.name, task.revision), holds_status
    elif task.step is WorkerStep.EVALUATE:
        name = shard_result_name(task.name, task.revision, task.batch, task.index)
        holds = holds_metrics
    else:
        return False
    try:
        return holds(store.config_map_data(task.namespace, name))
    except ApiError as exc:
        if exc.status == 404:
            return False
        raise


def report_failure(failure: WorkerFailure) -> None:
    """Say why the worker failed: on stderr for `kubectl logs`, and in the termination
    log, which the operator reads."""
    print(f"{failure.reason}: {failure.message}", file=sys.stderr, flush=True)
    with contextlib.suppress(OSError):  # not in a pod
        Path(TERMINATION_LOG).write_text(failure_report(failure))


def compile_kernels() -> None:
    """Run every strategy at either fill on a few synthetic bars (with a planted edge, so
    that its recursion compiles too), so that numba compiles and caches each kernel they
    use (the image build does this once for every pod)."""
    from stratopt.api.v1alpha1 import BacktestSpec
    from stratopt.api.v1alpha1.backtest import FillConvention
    from stratopt.backtest.engine import Backtester
    from stratopt.backtest.strategies import available_strategies

    for name in available_strategies():
        for fill in FillConvention:
            spec = BacktestSpec.model_validate(
                {
                    "data": {"source": "synthetic:gbm?bars=600&freq=1h&seed=1&reversion=0.05"},
                    "strategy": {"name": name},
                    "fill": fill.value,
                }
            )
            backtester = Backtester(spec)
            backtester.evaluate()
            backtester.run()


def parse_task(argv: list[str] | None, environ: dict[str, str] | os._Environ[str]) -> Task | None:
    """The task the command line names; None for ``compile``. The completion index of an
    Indexed Job's pod comes from ``JOB_COMPLETION_INDEX``."""
    parser = argparse.ArgumentParser(prog="python -m stratopt.jobs")
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser(WorkerStep.RUN.value, help="run one resource and store its status")
    run.add_argument("--kind", required=True, choices=sorted(PLURALS))
    evaluate = commands.add_parser(WorkerStep.EVALUATE.value, help="evaluate one shard of a batch")
    fold = commands.add_parser(WorkerStep.FOLD.value, help="run one walk-forward fold")
    finalize = commands.add_parser(WorkerStep.FINALIZE.value, help="summarize a distributed search")
    for command in (run, evaluate, fold, finalize):
        command.add_argument("--name", required=True)
        command.add_argument("--namespace", required=True)
        command.add_argument("--revision", required=True)
    evaluate.add_argument("--batch", type=int, required=True)
    evaluate.add_argument("--shards-per-input", type=int, required=True)
    commands.add_parser("compile", help="compile the engine's kernels into numba's cache")
    args = parser.parse_args(argv)
    if args.command == "compile":
        return None
    step = WorkerStep(args.command)
    return Task(
        step=step,
        kind=getattr(args, "kind", DEFAULT_KIND),
        name=args.name,
        namespace=args.namespace,
        revision=args.revision,
        index=int(environ.get("JOB_COMPLETION_INDEX", "0")),
        batch=getattr(args, "batch", 0),
        shards_per_input=getattr(args, "shards_per_input", 1),
    )


def main(argv: list[str] | None = None) -> int:
    task = parse_task(argv, os.environ)
    if task is None:
        compile_kernels()
        return 0
    failure = work(Cluster.in_pod(), task)
    if failure is not None:
        report_failure(failure)
        return BAD_INPUT_EXIT_CODE
    return 0
