"""Several resources run together on this machine as on a cluster: ``fromFeatureAnalysis``
names a FeatureAnalysis (by ``metadata.name``) everywhere, so one YAML file holding an
analysis and the forecast that uses it runs unchanged with ``stratopt run`` and with
``kubectl apply``."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from stratopt.api.kinds import kind_of
from stratopt.errors import InputError

FIELD = "spec.fromFeatureAnalysis"


def name_of(document: Mapping[str, Any]) -> str | None:
    name = (document.get("metadata") or {}).get("name")
    return str(name) if name else None


def analysis_of(document: Mapping[str, Any]) -> str | None:
    """The FeatureAnalysis a ForecastRun document takes its features from, if any."""
    if document.get("kind") != "ForecastRun":
        return None
    name = (document.get("spec") or {}).get("fromFeatureAnalysis")
    return str(name) if name else None


def in_dependency_order(documents: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """``documents`` in the order given, except that each ForecastRun comes after the
    FeatureAnalysis it names; checked before anything runs, so no work is lost to a
    reference that cannot be met.

    Raises:
        InputError: two documents of one kind share a name, or a ForecastRun names a
            FeatureAnalysis that is not among ``documents``.
    """
    seen: set[tuple[str, str]] = set()
    for document in documents:
        name = name_of(document)
        key = (kind_of(document), name or "")
        if name is not None and key in seen:
            raise InputError("metadata.name", f"two {key[0]} documents are named {name!r}")
        seen.add(key)
    analyses = {name for kind, name in seen if kind == "FeatureAnalysis" and name}
    for document in documents:
        wanted = analysis_of(document)
        if wanted is not None and wanted not in analyses:
            raise InputError(FIELD, missing_analysis(wanted))
    first = [d for d in documents if analysis_of(d) is None]
    return first + [d for d in documents if analysis_of(d) is not None]


def missing_analysis(name: str) -> str:
    return (
        f"names FeatureAnalysis {name!r}, which is not among the resources given; put its "
        "document in the same file (after ---) or pass its file too: "
        "stratopt run ANALYSIS.yaml FORECAST.yaml"
    )


def with_analysis_features(spec: Mapping[str, Any], top_features: Sequence[str]) -> dict[str, Any]:
    """A ForecastRun spec whose ``fromFeatureAnalysis`` is replaced by the named analysis's
    ``topFeatures``: what a worker pod and ``stratopt run`` both train on."""
    resolved = {key: value for key, value in spec.items() if key != "fromFeatureAnalysis"}
    return {**resolved, "features": [str(name) for name in top_features]}


def analysis_skill_warning(name: str, analysis_status: Mapping[str, Any]) -> str | None:
    """The warning a ForecastRun fed from FeatureAnalysis ``name`` carries when that
    analysis's model did not beat its baseline."""
    from stratopt.api.v1alpha1.features import NO_SKILL

    score, baseline = analysis_status.get("modelScore"), analysis_status.get("baselineScore")
    said = any(str(w).startswith(NO_SKILL) for w in analysis_status.get("warnings") or [])
    if score is None or baseline is None or (score > baseline and not said):
        return None
    return (
        f"{FIELD}: FeatureAnalysis {name!r} has no skill (its "
        f"{analysis_status.get('scoreMetric')} of {score:.3f} against the baseline's "
        f"{baseline:.3f}): these features were ranked on noise"
    )
