"""A Python client for stratopt's resources on a cluster, and the same results locally.

    from stratopt.client import Client

    client = Client(namespace="research")  # kubeconfig, or the pod's credentials
    run = client.submit("examples/optimization-genetic.yaml")
    result = run.wait(timeout=1800, progress=print)  # RunFailed if it failed
    result.pareto_front, result.best_parameters

``run_local(resource)`` gives the same `Result` without a cluster. Needs the
``operator`` extra (the Kubernetes client) for everything but ``run_local``.
"""

from __future__ import annotations

import copy
import functools
import json
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel

from stratopt.api._resource import GROUP, VERSION
from stratopt.api.kinds import DEFAULT_KIND, KINDS, PLURALS
from stratopt.api.v1alpha1.status import ConditionType, Phase, Reason
from stratopt.errors import InputError, StratoptError

if TYPE_CHECKING:
    import pandas as pd

    from stratopt.backtest import Backtester
    from stratopt.data import MarketData

#: The kind of each spec model.
SPEC_KINDS: dict[type[BaseModel], str] = {crd.spec: kind for kind, crd in KINDS.items()}
_FIELD = re.compile(r"^(spec(?:[.\[][^:\s]*)?): (.+)$", re.DOTALL)


class ClientError(StratoptError):
    """A resource the cluster refused, or a run that failed: ``field`` names what to fix."""

    def __init__(self, field: str, message: str, reason: str) -> None:
        self.field, self.message, self.reason = field, message, reason
        super().__init__(f"{field}: {message}" if field else message)

    def __reduce__(self) -> tuple[type[ClientError], tuple[str, str, str]]:
        return type(self), (self.field, self.message, self.reason)


class Rejected(ClientError):
    """The API server refused the resource (its schema or validation rules)."""


class RunFailed(ClientError):
    """The run ended Failed; ``reason`` is its Failed condition's."""


class WaitTimeout(StratoptError):
    """The run did not finish within the time given."""


def _split_field(message: str) -> tuple[str, str]:
    named = _FIELD.match(message)
    return (named[1], named[2]) if named else ("", message)


@dataclass(frozen=True)
class Result:
    """A finished run's status, typed, under the names stratopt's users know; with its
    spec, a search's picks re-run for their trades and equity as DataFrames."""

    kind: str
    status: Any  # OptimizationRunStatus, FeatureAnalysisStatus or ForecastRunStatus
    spec: Mapping[str, Any] | None = None
    #: Every evaluation, or how to fetch them (from a cluster's ConfigMaps).
    stored_evaluations: Callable[[], pd.DataFrame | None] | None = field(default=None, repr=False)
    #: Bars given in Python rather than named by the spec.
    data: MarketData | None = field(default=None, repr=False)

    @classmethod
    def of(cls, kind: str, document: Mapping[str, Any], **more: Any) -> Result:
        return cls(kind, KINDS[kind].status.model_validate(dict(document)), **more)

    @property
    def evaluations(self) -> pd.DataFrame:
        """Every evaluation of a search: its parameters and metrics, a row each. Of a
        finished run on a cluster, those it keeps: all, or an even sample when they
        exceed its budget in etcd (``status.evaluations_kept`` says how many)."""
        import pandas as pd

        self._get("OptimizationRun", "progress")
        found = self.stored_evaluations() if self.stored_evaluations is not None else None
        if found is None:
            raise LookupError(
                "this run's evaluations are not readable yet: a search that runs in one "
                "pod stores them when it finishes"
            )
        return pd.DataFrame(found)

    def trades(self, pick: str = "balanced") -> pd.DataFrame:
        """The trades of ``pick`` (conservative, balanced or aggressive), re-run from the
        spec: times, side, prices, size, profit and loss, costs and exit reason."""
        from stratopt.backtest.ledger import trades_frame

        return trades_frame(self._backtester(), self._pick(pick))

    def equity(self, pick: str = "balanced") -> pd.DataFrame:
        """The equity, drawdown and position of ``pick`` at every bar, re-run from the spec."""
        from stratopt.backtest.ledger import equity_frame

        return equity_frame(self._backtester(), self._pick(pick))

    def _pick(self, pick: str) -> dict[str, float]:
        picks = self._get("OptimizationRun", "picks")
        chosen = (
            getattr(picks, pick, None)
            if pick in ("conservative", "balanced", "aggressive")
            else None
        )
        if chosen is None:
            raise KeyError(f"no {pick!r} pick; picks are conservative, balanced and aggressive")
        return dict(chosen.parameters)

    def _backtester(self) -> Backtester:
        from stratopt.api import parse_model
        from stratopt.api.v1alpha1 import BacktestSpec
        from stratopt.backtest import Backtester

        if self.spec is None:
            raise LookupError("this result has no spec to re-run its picks from")
        backtest = parse_model(BacktestSpec, self.spec.get("backtest"), "spec.backtest")
        return Backtester(backtest, self.data)

    @property
    def phase(self) -> str:
        return str(self.status.phase)

    def _get(self, kind: str, name: str) -> Any:
        if self.kind != kind:
            raise AttributeError(f"{name} is a result of {kind}, not of {self.kind}")
        return getattr(self.status, name)

    # OptimizationRun
    @property
    def pareto_front(self) -> list[Any]:
        return list(self._get("OptimizationRun", "pareto_front"))

    @property
    def best(self) -> Any:
        return self._get("OptimizationRun", "best")

    @property
    def best_parameters(self) -> dict[str, float] | None:
        """The best parameters: of the single objective, else of the rank-1 trade-off."""
        given = self._get("OptimizationRun", "best_parameters")
        best = self.status.best
        return given if given is not None else (best.parameters if best else None)

    @property
    def best_objective_value(self) -> float | None:
        value: float | None = self._get("OptimizationRun", "best_objective_value")
        return value

    @property
    def iterations_completed(self) -> int:
        return int(self._get("OptimizationRun", "progress").evaluations_completed)

    # FeatureAnalysis
    @property
    def features(self) -> list[Any]:
        if self.kind == "ForecastRun":
            return list(self.status.features)
        return list(self._get("FeatureAnalysis", "features"))

    @property
    def top_features(self) -> list[str]:
        return list(self._get("FeatureAnalysis", "top_features"))

    @property
    def model_score(self) -> float | None:
        value: float | None = self._get("FeatureAnalysis", "model_score")
        return value

    # ForecastRun
    @property
    def predictions(self) -> list[Any]:
        return list(self._get("ForecastRun", "predictions"))

    @property
    def model_accuracy(self) -> float | None:
        value: float | None = self._get("ForecastRun", "model_accuracy")
        return value


def load_resource(
    resource: str | Path | Mapping[str, Any] | BaseModel, name: str | None = None
) -> dict[str, Any]:
    """A resource document from a YAML path, a document, or a spec model."""
    from stratopt.api import read_document
    from stratopt.api._parse import check_envelope

    if isinstance(resource, BaseModel):
        kind = SPEC_KINDS.get(type(resource))
        if kind is None:
            raise TypeError(f"not a resource spec: {type(resource).__name__}")
        document: dict[str, Any] = {
            "apiVersion": f"{GROUP}/{VERSION}",
            "kind": kind,
            "metadata": {},
            "spec": resource.model_dump(mode="json", by_alias=True, exclude_none=True),
        }
    elif isinstance(resource, Mapping):
        document = copy.deepcopy(dict(resource))
        check_envelope(document, "resource")
    else:
        document = read_document(resource)
    document.setdefault("apiVersion", f"{GROUP}/{VERSION}")
    document.setdefault("kind", DEFAULT_KIND)
    metadata = document.setdefault("metadata", {})
    if name is not None:
        metadata["name"] = name
    if not metadata.get("name"):
        metadata["generateName"] = f"{document['kind'].lower()}-"
    return document


def run_local(
    resource: str | Path | Mapping[str, Any] | BaseModel, data: pd.DataFrame | None = None
) -> Result:
    """Run the resource on this machine (as ``stratopt run``): the same `Result`
    a cluster gives, with every evaluation of a search. ``data``: the bars as a pandas
    DataFrame (OHLC columns, a time column or index), instead of the spec's source.
    Bad input raises `stratopt.errors.InputError`."""
    from stratopt.api import parse_model
    from stratopt.runtime import run_feature_analysis, run_forecast, run_optimization

    document = load_resource(resource, name="local")
    kind, spec = document["kind"], document["spec"]
    parsed: Any = parse_model(KINDS[kind].spec, spec, "spec")
    bars = None
    if data is not None:
        from stratopt.data import market_data_from_frame

        data_spec = parsed.backtest.data if kind == "OptimizationRun" else parsed.data
        bars = market_data_from_frame(data, data_spec, "data")
    if kind == "OptimizationRun":
        outcome = run_optimization(parsed, data=bars)
        rows = [{**e.parameters, **e.metrics} for e in outcome.evaluations]
        status = outcome.status.model_dump(mode="json", by_alias=True, exclude_none=True)
        return Result.of(kind, status, spec=spec, stored_evaluations=lambda: rows, data=bars)
    if kind == "FeatureAnalysis":
        found: BaseModel = run_feature_analysis(parsed, bars)
    else:
        found = run_forecast(parsed, bars)[0]
    status = found.model_dump(mode="json", by_alias=True, exclude_none=True)
    return Result.of(kind, status, spec=spec, data=bars)


def stored_evaluations(
    api: Any, namespace: str, name: str, spec: dict[str, Any]
) -> pd.DataFrame | None:
    """The evaluations of a run on the cluster (each its parameters and metrics, indexed
    by its number in the search): those a finished run keeps (all, or an even sample:
    its status's ``evaluationsKept`` says), else, while a distributed run is under way,
    every one so far, paired with its parameters by replaying the search over its result
    ConfigMaps as the operator does. None while a single-pod run is under way."""
    import pandas as pd
    from kubernetes import client

    from stratopt.api.v1alpha1 import OptimizationRunSpec
    from stratopt.runtime.distributed import search_state
    from stratopt.runtime.protocol import revision, run_selector
    from stratopt.runtime.stored import any_metrics
    from stratopt.runtime.stored import stored_evaluations as kept_evaluations

    run_revision = revision(spec)
    core: Any = client.CoreV1Api(api)
    listed = core.list_namespaced_config_map(
        namespace, label_selector=run_selector(name, run_revision)
    )
    results = {cm.metadata.name: cm.data or {} for cm in listed.items}
    kept = kept_evaluations(results, name, run_revision)
    if kept is not None:
        rows, numbers, _ = kept
        return pd.DataFrame(rows, index=pd.Index(numbers, name="evaluation"))
    if not any_metrics(results):
        return None
    state = search_state(OptimizationRunSpec.model_validate(spec), results, name, run_revision)
    evaluations = state.driver.evaluations
    if state.pending is not None or not evaluations:
        return None
    return pd.DataFrame([{**e.parameters, **e.metrics} for e in evaluations])


class Run:
    """A submitted resource."""

    def __init__(self, client: Client, kind: str, name: str) -> None:
        self.client, self.kind, self.name = client, kind, name

    def __repr__(self) -> str:
        return f"Run({self.kind} {self.client.namespace}/{self.name})"

    def body(self) -> dict[str, Any]:
        found: dict[str, Any] = self.client.objects().get_namespaced_custom_object(
            GROUP, VERSION, self.client.namespace, PLURALS[self.kind], self.name
        )
        return found

    @property
    def phase(self) -> str:
        return str((self.body().get("status") or {}).get("phase", Phase.PENDING))

    def wait(
        self,
        timeout: float = 3600,
        *,
        progress: Callable[[dict[str, Any]], None] | None = None,
        poll: float = 2.0,
    ) -> Result:
        """Wait until the run has finished for its current spec; its `Result`.

        ``progress`` is called with the status's ``progress`` whenever it moves.

        Raises:
            RunFailed: the run ended Failed (the field and message of its condition).
            WaitTimeout: still unfinished after ``timeout`` seconds.
        """
        deadline = time.monotonic() + timeout
        shown = None
        while True:
            body = self.body()
            status = body.get("status") or {}
            current = status.get("observedGeneration") == body["metadata"].get("generation")
            if progress is not None and status.get("progress") not in (None, shown):
                shown = status["progress"]
                progress(shown)
            if current and status.get("phase") == Phase.FAILED:
                failed: dict[str, Any] = next(
                    (
                        c
                        for c in status.get("conditions", [])
                        if c.get("type") == ConditionType.FAILED
                    ),
                    {},
                )
                field, message = _split_field(str(failed.get("message", "")))
                raise RunFailed(field, message, str(failed.get("reason", Reason.FAILED)))
            if current and status.get("phase") == Phase.SUCCEEDED:
                return Result.of(
                    self.kind,
                    status,
                    spec=body.get("spec"),
                    stored_evaluations=functools.partial(self._evaluations, body),
                )
            if time.monotonic() >= deadline:
                raise WaitTimeout(
                    f"{self.kind} {self.name} is {status.get('phase', 'Pending')} after "
                    f"{timeout:g}s"
                )
            time.sleep(poll)

    def _evaluations(self, body: Mapping[str, Any]) -> pd.DataFrame | None:
        if self.kind != "OptimizationRun":
            return None
        return stored_evaluations(self.client.api, self.client.namespace, self.name, body["spec"])

    def suspend(self) -> None:
        self._patch({"spec": {"suspend": True}})

    def resume(self) -> None:
        self._patch({"spec": {"suspend": False}})

    def delete(self) -> None:
        self.client.objects().delete_namespaced_custom_object(
            GROUP, VERSION, self.client.namespace, PLURALS[self.kind], self.name
        )

    def _patch(self, change: dict[str, Any]) -> None:
        self.client.objects().patch_namespaced_custom_object(
            GROUP, VERSION, self.client.namespace, PLURALS[self.kind], self.name, change
        )


class Client:
    """stratopt's resources in one namespace of a cluster.

    Args:
        namespace: where runs are submitted and listed.
        kubeconfig: a kubeconfig file; default ``KUBECONFIG`` or ``~/.kube/config``, and
            in a pod its ServiceAccount.
        context: a context of that kubeconfig.
    """

    def __init__(
        self,
        namespace: str = "default",
        *,
        kubeconfig: str | Path | None = None,
        context: str | None = None,
    ) -> None:
        from kubernetes import client, config

        self.namespace = namespace
        try:
            try:
                self.api = config.new_client_from_config(  # type: ignore[no-untyped-call]
                    str(kubeconfig) if kubeconfig else None, context=context
                )
            except config.ConfigException:
                if kubeconfig is not None:
                    raise
                configuration = client.Configuration()
                config.load_incluster_config(client_configuration=configuration)  # type: ignore[no-untyped-call]
                self.api = client.ApiClient(configuration)
        except (config.ConfigException, OSError, ValueError, TypeError) as exc:
            raise InputError(
                "--kubeconfig",
                "no usable cluster credentials: give --kubeconfig or KUBECONFIG (a readable "
                f"kubeconfig file), or run inside a cluster ({type(exc).__name__})",
            ) from exc

    def objects(self) -> Any:
        """The custom objects API of the cluster."""
        from kubernetes import client

        return client.CustomObjectsApi(self.api)

    def submit(
        self, resource: str | Path | Mapping[str, Any] | BaseModel, *, name: str | None = None
    ) -> Run:
        """Create the resource; a `Run` to wait on.

        Raises:
            Rejected: the API server refused it (the field and message it gave).
        """
        from kubernetes.client import ApiException

        document = load_resource(resource, name)
        try:
            created = self.objects().create_namespaced_custom_object(
                GROUP, VERSION, self.namespace, PLURALS[document["kind"]], document
            )
        except ApiException as exc:
            raise _rejection(exc) from exc
        return Run(self, document["kind"], created["metadata"]["name"])

    def get(self, kind: str, name: str) -> Run:
        run = Run(self, kind, name)
        run.body()  # raises when absent
        return run

    def list(self, kind: str | None = None) -> list[Run]:
        """The runs of ``kind`` (every kind by default) in the namespace."""
        runs = []
        for each in [kind] if kind else list(PLURALS):
            items = self.objects().list_namespaced_custom_object(
                GROUP, VERSION, self.namespace, PLURALS[each]
            )["items"]
            runs += [Run(self, each, item["metadata"]["name"]) for item in items]
        return runs


def _rejection(exc: Any) -> Rejected:
    """The API server's refusal as field and message (its first cause)."""
    try:
        body = json.loads(exc.body or "{}")
    except ValueError:
        body = {}
    causes = (body.get("details") or {}).get("causes") or []
    if causes:
        cause = causes[0]
        return Rejected(str(cause.get("field", "")), str(cause.get("message", "")), "Invalid")
    return Rejected("", str(body.get("message") or exc.reason), str(body.get("reason", "")))
