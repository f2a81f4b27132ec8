"""The ``stratopt`` command.

``stratopt run FILE`` runs a resource locally and prints its status;
``stratopt backtest FILE`` evaluates one parameter set of the ``spec.backtest`` in a
resource file and prints every metric. Errors print as ``error: FIELD: what to fix``
and exit with status 2.
"""

from __future__ import annotations

import importlib
import json
import logging
import math
import shutil
import sys
import tempfile
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click
import yaml

from stratopt.errors import DataNotice, InputError, StratoptError
from stratopt.startup import exit_without_collecting, lazy_import

# What the commands use, imported when first used: `stratopt --help` and a mistyped
# option load none of it (see stratopt.startup).
if TYPE_CHECKING:
    import kopf
    from rich import markup as rich_markup
    from rich import table as rich_table

    from stratopt import api, runtime, settings
    from stratopt import backtest as backtesting
    from stratopt import output as display
    from stratopt import report as reports
    from stratopt.api import crds as definitions
    from stratopt.api import documents as resources
    from stratopt.api import kinds, v1alpha1, vocabulary
    from stratopt.backtest import ledger
    from stratopt.operator import handlers, logs
    from stratopt.runtime import blas, checks
else:
    kopf = lazy_import("kopf")
    rich_markup = lazy_import("rich.markup")
    rich_table = lazy_import("rich.table")
    api = lazy_import("stratopt.api")
    display = lazy_import("stratopt.output")
    runtime = lazy_import("stratopt.runtime")
    settings = lazy_import("stratopt.settings")
    backtesting = lazy_import("stratopt.backtest")
    reports = lazy_import("stratopt.report")
    definitions = lazy_import("stratopt.api.crds")
    resources = lazy_import("stratopt.api.documents")
    kinds = lazy_import("stratopt.api.kinds")
    v1alpha1 = lazy_import("stratopt.api.v1alpha1")
    vocabulary = lazy_import("stratopt.api.vocabulary")
    ledger = lazy_import("stratopt.backtest.ledger")
    handlers = lazy_import("stratopt.operator.handlers")
    logs = lazy_import("stratopt.operator.logs")
    blas = lazy_import("stratopt.runtime.blas")
    checks = lazy_import("stratopt.runtime.checks")

OUTPUT_FORMATS = ("table", "json", "yaml")


def _fail_cleanly(function: Callable[..., None]) -> Callable[..., None]:
    def wrapper(*args: Any, **kwargs: Any) -> None:
        try:
            function(*args, **kwargs)
        except StratoptError as exc:
            click.echo(f"error: {exc}", err=True)
            sys.exit(2)

    wrapper.__name__ = function.__name__
    wrapper.__doc__ = function.__doc__
    return wrapper


def parse_assignments(assignments: Sequence[str]) -> dict[str, float]:
    """``["stop_loss=38", "take_profit=95"]`` → ``{"stop_loss": 38.0, ...}``."""

    values: dict[str, float] = {}
    for assignment in assignments:
        name, separator, raw = assignment.partition("=")
        if not separator or not name.strip():
            raise InputError("--set", f"expected NAME=VALUE; got {assignment!r}")
        try:
            value = float(raw)
        except ValueError as exc:
            raise InputError(
                f"--set {name.strip()}", f"value must be a number; got {raw[:40]!r}"
            ) from exc
        if not math.isfinite(value):
            raise InputError(f"--set {name.strip()}", f"value must be finite; got {raw!r}")
        values[name.strip()] = value
    return values


def emit(document: dict[str, Any], output: str, table: Callable[[dict[str, Any]], None]) -> None:
    """Print ``document`` as JSON, YAML, or through ``table`` for humans."""
    if output == "json":
        click.echo(json.dumps(document, indent=2, default=str))
    elif output == "yaml":
        click.echo(yaml.safe_dump(document, sort_keys=False))
    else:
        table(document)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="stratopt")
def cli() -> None:
    """Optimize trading-strategy parameters, locally or on Kubernetes."""

    default = warnings.showwarning

    def show(message: Any, category: type[Warning], *args: Any, **kwargs: Any) -> None:
        if issubclass(category, DataNotice):
            click.echo(f"note: {message}", err=True)
        else:
            default(message, category, *args, **kwargs)

    warnings.showwarning = show


@cli.command()
@click.argument("file", type=click.Path(dir_okay=False))
@click.option(
    "--set",
    "assignments",
    multiple=True,
    metavar="NAME=VALUE",
    help="Override a strategy or risk parameter (repeatable).",
)
@click.option(
    "-o",
    "--output",
    type=click.Choice(OUTPUT_FORMATS),
    default="table",
    show_default=True,
    help="Output format.",
)
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False),
    default=None,
    help="Also write backtest.yaml (what is printed), trades.csv and equity.csv here.",
)
@click.option("--force", is_flag=True, help="Replace what --out's folder already holds.")
@_fail_cleanly
def backtest(
    file: str, assignments: tuple[str, ...], output: str, out_dir: str | None, force: bool
) -> None:
    """Backtest the spec.backtest of FILE once and print every metric."""
    document = api.read_document(file)
    spec = api.parse_model(v1alpha1.BacktestSpec, document["spec"].get("backtest"), "spec.backtest")
    if out_dir is not None:
        _check_out(out_dir, force)
    backtester = backtesting.Backtester(spec)
    parameters = backtester.parameters(parse_assignments(assignments), "--set")
    found = checks.backtest_warnings(backtester, parameters)
    for warning in found:
        click.echo(f"warning: {warning}", err=True)
    report = {
        "strategy": spec.strategy.name,
        "parameters": parameters,
        "bars": len(backtester.data),
        "metrics": backtester.evaluate(parameters),
        "benchmark": ledger.buy_and_hold(backtester)[0],
        "warnings": found,
    }
    emit(report, output, _print_backtest)
    if out_dir is not None:

        def write(folder: str) -> None:
            (Path(folder) / "backtest.yaml").write_text(yaml.safe_dump(report, sort_keys=False))
            display.write_ledger(Path(folder), backtester, parameters)

        _write_results(out_dir, document, write)


def _print_backtest(report: dict[str, Any]) -> None:
    escape, table_of = rich_markup.escape, rich_table.Table
    console = display.terminal()
    parameters = ", ".join(f"{k}={v:g}" for k, v in report["parameters"].items())
    console.print(
        f"[bold]{escape(report['strategy'])}[/bold] on {report['bars']} bars: {escape(parameters)}"
    )
    table = table_of("metric", "value", "buy and hold", "unit")
    held = report.get("benchmark") or {}
    for name, value in report["metrics"].items():
        beside = f"{held[name]:,.4f}" if name in held else ""
        table.add_row(name, f"{value:,.4f}", beside, vocabulary.METRICS[name][0])
    console.print(table)


@cli.command()
@click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=False))
@click.option(
    "-o",
    "--output",
    type=click.Choice(OUTPUT_FORMATS),
    default="table",
    show_default=True,
    help="Output format; json and yaml print the status only (a list of resources with "
    "their status when there are several).",
)
@click.option(
    "--workers",
    type=click.IntRange(min=1),
    default=None,
    help="Worker processes (default: spec.execution.workers, else all cores).",
)
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False),
    default=None,
    help="Also write status.yaml, resource.yaml, evaluations.csv and pareto.png here "
    "(what `stratopt report` reads), once the run is done; for several resources, in a "
    "folder each, KIND-NAME. The folder must be new or empty.",
)
@click.option("--force", is_flag=True, help="Replace what --out's folder already holds.")
@_fail_cleanly
def run(
    files: tuple[str, ...], output: str, workers: int | None, out_dir: str | None, force: bool
) -> None:
    """Run the resources in FILES on this machine and print their status.

    A file may hold several resources, separated by `---`. A ForecastRun whose
    fromFeatureAnalysis names a FeatureAnalysis among them runs after it, on its
    topFeatures, as on a cluster.
    """
    found = [d for file in files for d in api.read_documents(file)]
    for document in found:  # every spec checked before any runs: no work lost
        _parse_spec(document)
    documents = resources.in_dependency_order(found)
    several = len(documents) > 1
    folders: list[str | None] = [out_dir] * len(documents)
    if out_dir is not None and several:
        # A folder each, named by kind and name: the names are Kubernetes names, checked
        # when read, so none leaves the folder.
        folders = [
            str(Path(out_dir) / f"{kinds.kind_of(d).lower()}-{resources.name_of(d) or i}")
            for i, d in enumerate(documents)
        ]
    for folder in folders:
        if folder is not None:
            _check_out(folder, force)  # before the run, so that no finished result is lost
    analyses: dict[str, dict[str, Any]] = {}
    listed = []
    for document, folder in zip(documents, folders, strict=True):
        kind = kinds.kind_of(document)
        wanted = resources.analysis_of(document)
        if wanted is not None:
            top = analyses[wanted].get("topFeatures") or []
            document = {**document, "spec": resources.with_analysis_features(document["spec"], top)}
        status, show, write = LOCAL_RUNS[kind](document, workers)
        unskilled = wanted and resources.analysis_skill_warning(wanted, analyses[wanted])
        if unskilled:
            status["warnings"] = [unskilled, *status.get("warnings", [])]
        name = resources.name_of(document)
        if kind == "FeatureAnalysis" and name is not None:
            analyses[name] = status
        if not several:
            emit(status, output, show)
        elif output == "table":
            click.echo(f"\n{kind} {name or ''}".rstrip())
            show(status)
        else:
            listed.append({"kind": kind, "metadata": {"name": name}, "status": status})
        # After the result, so that what to distrust about it is the last thing shown.
        for warning in status.get("warnings", []):
            click.echo(f"warning: {warning}", err=True)
        if folder is not None:
            _write_results(folder, document, write)
    if several and output != "table":
        emit({"items": listed}, output, lambda _: None)


def _parse_spec(document: dict[str, Any]) -> Any:
    return api.parse_model(kinds.KINDS[kinds.kind_of(document)].spec, document["spec"], "spec")


def _check_out(folder: str, force: bool) -> None:
    """A results folder that may be written: new, empty, or replaced with --force."""

    path = Path(folder)
    if path.is_dir() and any(path.iterdir()) and not force:
        raise InputError(
            "--out",
            f"{folder!r} already holds files; choose a new folder, or pass --force to replace it",
        )
    if path.exists() and not path.is_dir():
        raise InputError("--out", f"{folder!r} is a file; choose a folder")
    _check_writable(folder)


def _write_results(folder: str, document: dict[str, Any], write: Callable[[str], None]) -> None:
    """Write a run's results into a hidden folder beside ``folder``, then rename it into
    place: an interrupted write leaves no folder that claims a result."""

    target = Path(folder)
    stage = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".partial", dir=target.parent))
    try:
        write(str(stage))
        # What `stratopt report` needs beside the status: the kind and the spec.
        (stage / "resource.yaml").write_text(yaml.safe_dump(document, sort_keys=False))
        if target.exists():
            replaced = stage.with_name(stage.name.replace(".partial", ".replaced"))
            target.rename(replaced)
            stage.rename(target)
            shutil.rmtree(replaced, ignore_errors=True)
        else:
            stage.rename(target)
    except OSError as exc:
        raise InputError(
            "--out",
            f"cannot write the results into {folder!r}: {exc.strerror or exc}; the result "
            "is printed above; free some space or choose another folder",
        ) from exc
    finally:
        shutil.rmtree(stage, ignore_errors=True)


def _check_writable(out_dir: str) -> None:

    try:
        Path(out_dir).mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=out_dir):
            pass
    except OSError as exc:
        raise InputError(
            "--out", f"cannot write into {out_dir!r}: {exc.strerror}; choose a writable folder"
        ) from exc


#: A run's status, how to show it, and how to write its results into a folder.
Shown = tuple[dict[str, Any], Callable[[dict[str, Any]], None], Callable[[str], None]]


def _run_optimization(document: dict[str, Any], workers: int | None) -> Shown:
    spec = api.parse_model(v1alpha1.OptimizationRunSpec, document["spec"], "spec")
    with display.ProgressReporter(spec.algorithm.name) as reporter:
        outcome = runtime.run_optimization(spec, workers=workers, on_batch=reporter.update)
    status = outcome.status.model_dump(mode="json", by_alias=True, exclude_none=True)
    return (
        status,
        lambda _: display.print_optimization(spec, outcome.status),
        lambda folder: display.write_optimization(folder, spec, outcome),
    )


def _run_feature_analysis(document: dict[str, Any], workers: int | None) -> Shown:
    spec = api.parse_model(v1alpha1.FeatureAnalysisSpec, document["spec"], "spec")
    result = runtime.run_feature_analysis(spec)
    status = result.model_dump(mode="json", by_alias=True, exclude_none=True)
    return (
        status,
        lambda _: display.print_features(result),
        lambda folder: display.write_features(folder, spec, result),
    )


@cli.command()
@click.argument("source")
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False),
    default=".",
    show_default=True,
    help="Directory to write report.html into.",
)
@click.option("-n", "--namespace", default="default", show_default=True, help="Cluster source.")
@click.option(
    "--kubeconfig", default=None, help="Cluster source: kubeconfig (default: KUBECONFIG)."
)
@click.option(
    "--rerun",
    is_flag=True,
    help="From a results folder: re-run the picks (equity, forecast history), which "
    "imports the strategy and reads the data its resource.yaml names. Off, the folder is "
    "read as data only.",
)
@_fail_cleanly
def report(source: str, out_dir: str, namespace: str, kubeconfig: str | None, rerun: bool) -> None:
    """Write one self-contained, interactive HTML report of a finished run.

    SOURCE is a `stratopt run --out` directory, or optrun/NAME, fa/NAME or fcrun/NAME of
    a resource on the cluster of your kubeconfig.
    """
    _check_writable(out_dir)
    found = reports.load_source(source, namespace=namespace, kubeconfig=kubeconfig, rerun=rerun)
    path = reports.write_report(found, out_dir)
    click.echo(path)


@cli.command()
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False),
    default="crds",
    show_default=True,
    help="Directory to write the CRD files into.",
)
def crds(out_dir: str) -> None:
    """Write the CustomResourceDefinitions generated from the resource models."""
    for path in definitions.write_crds(Path(out_dir)):
        click.echo(path)


def _run_forecast(document: dict[str, Any], workers: int | None) -> Shown:
    spec = api.parse_model(v1alpha1.ForecastRunSpec, document["spec"], "spec")
    result, model, data = runtime.run_forecast(spec)
    status = result.model_dump(mode="json", by_alias=True, exclude_none=True)
    return (
        status,
        lambda _: display.print_forecast(result),
        lambda folder: display.write_forecast(folder, spec, result, model, data),
    )


#: How ``stratopt run`` runs and shows each kind.
LOCAL_RUNS: dict[str, Callable[[dict[str, Any], int | None], Shown]] = {
    "OptimizationRun": _run_optimization,
    "FeatureAnalysis": _run_feature_analysis,
    "ForecastRun": _run_forecast,
}


@cli.command()
@click.option(
    "-n", "--namespace", "namespaces", multiple=True, help="Watch this namespace (repeatable)."
)
@click.option("-A", "--all-namespaces", is_flag=True, help="Watch every namespace.")
@click.option(
    "--peering",
    default=None,
    help="kopf peering object for high availability; standalone by default.",
)
@click.option(
    "--liveness",
    default=None,
    metavar="URL",
    help="Serve a health endpoint for probes, e.g. http://0.0.0.0:8081/healthz.",
)
@click.option(
    "--log-format",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    help="Log lines as text ([namespace/name] prefixed) or one JSON object each.",
)
@click.option("-v", "--verbose", is_flag=True, help="Log at DEBUG (kopf's own steps too).")
@_fail_cleanly
def operator(
    namespaces: tuple[str, ...],
    all_namespaces: bool,
    peering: str | None,
    liveness: str | None,
    log_format: str,
    verbose: bool,
) -> None:
    """Run the Kubernetes operator (kopf) for stratopt's resources.

    Logs go to standard error: milestones at INFO, every failed reconciliation at ERROR
    with the run's namespace and name; nothing while there is nothing to do.
    """
    if not namespaces and not all_namespaces:
        raise click.UsageError("give --namespace NS (repeatable) or --all-namespaces")
    settings.OperatorSettings.from_environment()  # a bad STRATOPT_* variable stops it here, named
    kopf.configure(
        verbose=verbose,
        log_format=kopf.LogFormat.JSON if log_format == "json" else kopf.LogFormat.FULL,
        log_prefix=log_format == "text",
    )
    if not verbose:  # kopf says "Handler … succeeded" for every watch event
        logging.getLogger("kopf.objects").setLevel(logging.WARNING)
    logs.downgrade_retried_requests()
    importlib.import_module(handlers.__name__)  # registers the handlers with kopf

    kopf.run(
        standalone=peering is None,
        peering_name=peering,
        clusterwide=all_namespaces,
        namespaces=list(namespaces),
        liveness_endpoint=liveness,
    )


def main() -> None:
    """Entry point of the ``stratopt`` console script."""
    blas.one_blas_thread()
    try:
        cli()
    finally:
        exit_without_collecting()


if __name__ == "__main__":
    main()
