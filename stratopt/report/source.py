"""Where a report's run comes from: a ``stratopt run --out`` directory, or a resource on
a cluster (``optrun/NAME``, ``fa/NAME``, ``fcrun/NAME``) read through the user's
kubeconfig."""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from stratopt.errors import InputError

if TYPE_CHECKING:
    import pandas as pd


#: What ``stratopt run --out`` writes beside status.yaml, telling each kind apart when
#: the directory predates resource.yaml.
_MARKERS = {
    "evaluations.csv": "OptimizationRun",
    "features.parquet": "FeatureAnalysis",
    "model.keras": "ForecastRun",
}


@dataclass(frozen=True)
class ReportSource:
    """What a report is drawn from."""

    kind: str
    name: str
    spec: dict[str, Any] | None
    status: dict[str, Any]
    evaluations: pd.DataFrame | None
    #: A forecast's one-step-ahead test predictions against the actuals.
    tested: pd.DataFrame | None = None
    #: Whether the report may re-run the spec: import its strategy and read its data.
    #: A results folder is read as data unless told (``--rerun``): it may come from anyone.
    rerun: bool = True


def load_source(
    source: str,
    *,
    namespace: str = "default",
    kubeconfig: str | None = None,
    rerun: bool = False,
) -> ReportSource:
    """The run at ``source``: a ``stratopt run --out`` directory (re-run only when
    ``rerun``) or ``KIND/NAME`` on a cluster."""
    path = Path(source)
    if path.is_dir():
        return replace(_from_directory(path), rerun=rerun)
    from stratopt.api.kinds import KINDS, kind_named

    named, slash, name = source.partition("/")
    kind = kind_named(named) if slash and name else None
    if kind is not None:
        return _from_cluster(kind, name, namespace, kubeconfig)
    forms = ", ".join(f"{crd.short_names[0]}/NAME" for crd in KINDS.values())
    raise InputError(
        "SOURCE",
        f"{source!r} is neither a directory nor KIND/NAME; give the --out directory of "
        f"`stratopt run`, or {forms} of a cluster's resource",
    )


def _from_directory(path: Path) -> ReportSource:
    from stratopt.api.kinds import DEFAULT_KIND, kind_of

    status_file = path / "status.yaml"
    if not status_file.is_file():
        raise InputError(
            "SOURCE", f"{path} holds no status.yaml; give a `stratopt run --out` directory"
        )
    status = _read_yaml(status_file)
    resource_file = path / "resource.yaml"
    if resource_file.is_file():
        resource = _read_yaml(resource_file)
        kind, spec = kind_of(resource), resource.get("spec")
        name = str(resource.get("metadata", {}).get("name", path.name))
        if kind not in _SECTION_KINDS or not isinstance(spec, dict):
            raise InputError("SOURCE", f"{resource_file} is not a stratopt resource")
    else:
        found = [kind for marker, kind in _MARKERS.items() if (path / marker).exists()]
        kind, spec, name = (found[0] if found else DEFAULT_KIND), None, path.name
    import pandas as pd

    evaluations = tested = None
    try:
        if (path / "evaluations.csv").is_file():
            evaluations = pd.read_csv(path / "evaluations.csv", index_col="evaluation")
        if (path / "test.csv").is_file():
            tested = pd.read_csv(path / "test.csv", index_col="timestamp", parse_dates=True)
    except (ValueError, KeyError, OSError) as exc:
        raise InputError("SOURCE", f"{path} holds a results file that cannot be read") from exc
    return ReportSource(kind, name, spec, status, evaluations, tested)


#: The kinds a report draws, and the most a results folder's YAML may hold.
_SECTION_KINDS = ("OptimizationRun", "FeatureAnalysis", "ForecastRun")
_LARGEST_YAML = 64 * 2**20


def _read_yaml(path: Path) -> dict[str, Any]:
    """A results folder's YAML file as a mapping, or an error naming the file."""
    from stratopt.api._parse import _StrictLoader

    try:
        if path.stat().st_size > _LARGEST_YAML:
            raise InputError("SOURCE", f"{path} is too large to be stratopt's results")
        document = yaml.load(path.read_text(encoding="utf-8"), Loader=_StrictLoader)
    except (yaml.YAMLError, UnicodeDecodeError, RecursionError, OSError) as exc:
        raise InputError("SOURCE", f"{path} is not readable YAML; is it a results folder?") from exc
    if not isinstance(document, dict):
        raise InputError("SOURCE", f"{path} does not hold a mapping; is it a results folder?")
    return document


def _from_cluster(kind: str, name: str, namespace: str, kubeconfig: str | None) -> ReportSource:
    from kubernetes.client import ApiException

    from stratopt.client import Client, stored_evaluations

    cluster = Client(namespace, kubeconfig=kubeconfig)
    try:
        body = cluster.get(kind, name).body()
    except ApiException as exc:
        raise InputError(
            "SOURCE", f"cannot read {kind} {namespace}/{name}: {exc.reason} ({exc.status})"
        ) from exc
    status = body.get("status") or {}
    from stratopt.api.v1alpha1.status import Phase

    if status.get("phase") != Phase.SUCCEEDED:
        raise InputError(
            "SOURCE",
            f"{kind} {namespace}/{name} is {status.get('phase', 'not started')}, not "
            "Succeeded: a report needs a finished run",
        )
    evaluations = None
    if kind == "OptimizationRun":
        evaluations = stored_evaluations(cluster.api, namespace, name, body["spec"])
    return ReportSource(kind, name, body.get("spec"), status, evaluations)
