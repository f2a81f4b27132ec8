"""What a distributed run's pods and its operator store in ConfigMaps, and how: the one
reader and writer of that data.

A run keeps its state in ConfigMaps it owns, labelled with its name and revision
(:func:`~stratopt.runtime.protocol.result_labels`), so one LIST reads all of it:

======================================  ==========================  =====================
ConfigMap                                keys                        written by
======================================  ==========================  =====================
``<run>-<rev>-b<batch>-in<part>``        ``shard-<i>``: JSON list    the operator
                                         of parameter sets
``<run>-<rev>-b<batch>-s<i>``            ``metrics.json``: JSON      shard *i*'s pod
                                         list, one per set
``<run>-<rev>-plan``                     ``folds``: how many         batch 0, shard 0
``<run>-<rev>-f<fold>``                  a fold's outcome            fold *i*'s pod
                                         (:func:`encode_fold`)
``<run>-<rev>-progress``                 ``progress.json``           a single-Job search
``<run>-<rev>-result``                   ``status.json``             the run's (or the
                                                                     finalize) Job
``<run>-<rev>-evaluations``              ``evaluations.json.gz``:    the run's (or the
                                         every evaluation, or an     finalize) Job
                                         even sample within
                                         ``EVALUATIONS_BYTES``
======================================  ==========================  =====================

Once a run has succeeded its operator removes the rest (and its Jobs): a finished run
keeps its status, its result and its evaluations, within a bound, in etcd.

A batch's shards are packed ``shards_per_input`` to an input ConfigMap so that each
stays well under the API's 1 MiB object limit; the batch Job's
``stratopt.io/shards-per-input`` label tells its pods where to find theirs.
"""

from __future__ import annotations

import base64
import gzip
import json
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from stratopt.errors import StratoptError
from stratopt.runtime.protocol import bounded_name

if TYPE_CHECKING:
    from stratopt.optimize import Evaluation
    from stratopt.runtime.walkforward import FoldOutcome

Params = dict[str, float]
#: The data of a run's ConfigMaps, by ConfigMap name.
StoredResults = dict[str, dict[str, str]]

#: Bytes of shard inputs per ConfigMap; the API server refuses objects over 1 MiB.
INPUT_BYTES = 512 * 1024
#: The label of a batch Job that says how many shards each of its input ConfigMaps holds.
SHARDS_PER_INPUT_LABEL = "stratopt.io/shards-per-input"
#: On a batch Job run again because results its pods stored were lost: how many times.
RERUN_LABEL = "stratopt.io/rerun"
#: How many times a batch runs again for lost results before the run fails.
MAX_RERUNS = 2
#: How long a shard's pod waits for its input: a batch's Job starts while the batch
#: before it runs, and its pods wait for the inputs that batch's results decide.
INPUT_WAIT_SECONDS = 3600.0

_METRICS = "metrics.json"
_STATUS = "status.json"
_PROGRESS = "progress.json"
_FOLDS = "folds"
_EVALUATIONS = "evaluations.json.gz"
#: Bytes of a run's evaluations kept in etcd (gzipped, base64): with its status and
#: result, a finished run stays under 256 KiB.
EVALUATIONS_BYTES = 128 * 1024


class ResultMissingError(StratoptError):
    """What a distributed run's pods store is incomplete: a shard's input, a batch's
    results, a fold's outcome."""

    reason = "ResultMissing"


# -- names -------------------------------------------------------------------------------


def result_name(name: str, revision: str) -> str:
    """The ConfigMap a run's worker writes its status into."""
    return bounded_name(name, f"-{revision}-result", 253)


def progress_name(name: str, revision: str) -> str:
    """The ConfigMap a single-mode worker reports its search's progress into."""
    return bounded_name(name, f"-{revision}-progress", 253)


def evaluations_name(name: str, revision: str) -> str:
    """The ConfigMap a finished search keeps its evaluations in."""
    return bounded_name(name, f"-{revision}-evaluations", 253)


def kept_names(name: str, revision: str) -> tuple[str, str]:
    """The ConfigMaps a succeeded run keeps: its result and its evaluations."""
    return result_name(name, revision), evaluations_name(name, revision)


def shard_input_name(name: str, revision: str, batch: int, part: int) -> str:
    """ConfigMap ``part`` of a batch's shard inputs."""
    return bounded_name(name, f"-{revision}-b{batch}-in{part}", 253)


def shard_result_name(name: str, revision: str, batch: int, shard: int) -> str:
    """The ConfigMap one shard's pod writes its metrics into."""
    return bounded_name(name, f"-{revision}-b{batch}-s{shard}", 253)


def plan_name(name: str, revision: str) -> str:
    """The ConfigMap where a distributed walk-forward's first pod records how many folds
    the data gives (the operator never loads market data itself)."""
    return bounded_name(name, f"-{revision}-plan", 253)


def fold_result_name(name: str, revision: str, fold: int) -> str:
    """The ConfigMap one fold's pod writes its outcome into."""
    return bounded_name(name, f"-{revision}-f{fold}", 253)


# -- shard inputs ------------------------------------------------------------------------


def shard(batch: list[Params], shard_size: int) -> list[list[Params]]:
    """Consecutive shards of at most ``shard_size`` parameter sets, in batch order."""
    return [batch[i : i + shard_size] for i in range(0, len(batch), shard_size)]


def shards_per_input(shards: Sequence[Sequence[Params]]) -> int:
    """How many shards one input ConfigMap holds: as many as fit in ``INPUT_BYTES``."""
    largest = max((len(json.dumps(list(s))) for s in shards), default=1)
    return max(1, INPUT_BYTES // (largest + 32))


def shard_inputs(
    name: str,
    revision: str,
    batch: int,
    shards: Sequence[Sequence[Params]],
    per_input: int | None = None,
) -> dict[str, dict[str, str]]:
    """A batch's inputs as ConfigMap data by ConfigMap name: shard *i* is key
    ``shard-<i>`` of part ``i // per_input`` (by default ``shards_per_input(shards)``)."""
    per_part = per_input or shards_per_input(shards)
    return {
        shard_input_name(name, revision, batch, first // per_part): {
            f"shard-{i}": json.dumps(list(shards[i]))
            for i in range(first, min(first + per_part, len(shards)))
        }
        for first in range(0, len(shards), per_part)
    }


def shard_input_part(index: int, per_input: int) -> int:
    """Which input ConfigMap of its batch holds shard ``index``."""
    return index // per_input


def read_shard_input(data: Mapping[str, str], index: int) -> list[Params] | None:
    """Shard ``index``'s parameter sets from its input ConfigMap's data; None if absent."""
    found = data.get(f"shard-{index}")
    return None if found is None else list(json.loads(found))


def _stored_inputs(
    results: StoredResults, name: str, revision: str, batch: int
) -> list[dict[str, str]]:
    parts: list[dict[str, str]] = []
    while (found := results.get(shard_input_name(name, revision, batch, len(parts)))) is not None:
        parts.append(found)
    return parts


def stored_layout(
    results: StoredResults, name: str, revision: str, batch: int
) -> tuple[int, int] | None:
    """(shards, shards per input ConfigMap) of a batch whose inputs are written; None
    before."""
    parts = _stored_inputs(results, name, revision, batch)
    if not parts:
        return None
    return sum(len(part) for part in parts), max(1, len(parts[0]))


# -- shard results -----------------------------------------------------------------------


def shard_metrics(metrics: Sequence[Mapping[str, float]]) -> dict[str, str]:
    """A shard's metrics, one per parameter set in order, as its ConfigMap's data."""
    return {_METRICS: json.dumps(list(metrics))}


def _read_metrics(
    results: StoredResults, name: str, revision: str, batch: int, index: int
) -> list[dict[str, float]] | None:
    found = results.get(shard_result_name(name, revision, batch, index))
    return None if found is None or _METRICS not in found else json.loads(found[_METRICS])


def missing_shards(
    results: StoredResults, name: str, revision: str, batch: int, shards: int
) -> list[int]:
    """The shards of batch ``batch`` (of ``shards``) whose metrics are not stored."""
    names = (shard_result_name(name, revision, batch, i) for i in range(shards))
    return [i for i, at in enumerate(names) if _METRICS not in results.get(at, {})]


def holds_metrics(data: Mapping[str, str]) -> bool:
    """Whether a shard result ConfigMap's data holds its metrics."""
    return _METRICS in data


def holds_status(data: Mapping[str, str]) -> bool:
    """Whether a result ConfigMap's data holds its run's status."""
    return _STATUS in data


def any_metrics(results: StoredResults) -> bool:
    """Whether any shard's metrics are stored: a run that was ever distributed."""
    return any(_METRICS in data for data in results.values())


def batch_config_maps(
    results: StoredResults, name: str, revision: str, batch: int
) -> dict[str, Mapping[str, str]]:
    """The stored inputs and results of batch ``batch``, by ConfigMap name: what a replay
    told its driver, to check later that none has since been deleted or edited."""
    parts = _stored_inputs(results, name, revision, batch)
    shards = sum(len(part) for part in parts)
    names = [shard_input_name(name, revision, batch, i) for i in range(len(parts))]
    names += [shard_result_name(name, revision, batch, i) for i in range(shards)]
    return {at: results[at] for at in names if at in results}


def stored_batch(
    results: StoredResults, name: str, revision: str, batch: int
) -> list[Evaluation] | None:
    """Batch ``batch`` as it was evaluated: each parameter set of its stored shard inputs
    paired with the metrics its shard's pod stored. None while a shard has no result (or
    the batch has no inputs yet).

    Raises:
        ReplayMismatchError: a shard's result does not match its input.
    """
    from stratopt.optimize import Evaluation
    from stratopt.optimize.driver import ReplayMismatchError

    inputs: dict[int, list[Params]] = {}
    for part in _stored_inputs(results, name, revision, batch):
        for key, value in part.items():
            inputs[int(key.removeprefix("shard-"))] = json.loads(value)
    if not inputs:
        return None
    evaluations: list[Evaluation] = []
    for index in range(len(inputs)):
        metrics = _read_metrics(results, name, revision, batch, index)
        if metrics is None:
            return None
        if index not in inputs:
            raise ReplayMismatchError(f"batch {batch}: the input of shard {index} is missing")
        if len(metrics) != len(inputs[index]):
            raise ReplayMismatchError(
                f"batch {batch}, shard {index}: {len(inputs[index])} parameter sets but "
                f"{len(metrics)} results"
            )
        evaluations += [Evaluation(p, m) for p, m in zip(inputs[index], metrics, strict=True)]
    return evaluations


# -- walk-forward folds ------------------------------------------------------------------


def fold_count(folds: int) -> dict[str, str]:
    """How many folds the data gives, as the plan ConfigMap's data."""
    return {_FOLDS: str(folds)}


def stored_fold_count(results: StoredResults, name: str, revision: str) -> int | None:
    found = results.get(plan_name(name, revision))
    return None if found is None or _FOLDS not in found else int(found[_FOLDS])


def missing_folds(results: StoredResults, name: str, revision: str, folds: int) -> list[int]:
    return [i for i in range(folds) if fold_result_name(name, revision, i) not in results]


def encode_fold(outcome: FoldOutcome) -> dict[str, str]:
    """A fold's outcome as ConfigMap data; arrays as raw float64, so nothing is rounded."""
    return {
        "result.json": outcome.result.model_dump_json(by_alias=True),
        "testEquity": base64.b64encode(outcome.test_equity.astype("<f8").tobytes()).decode(),
        "tradePnls": base64.b64encode(outcome.trade_pnls.astype("<f8").tobytes()).decode(),
        "barsInMarket": str(outcome.bars_in_market),
    }


def decode_fold(data: Mapping[str, str]) -> FoldOutcome:
    """The outcome :func:`encode_fold` stored, exactly."""
    import numpy as np

    from stratopt.api.v1alpha1.optimization import FoldResult
    from stratopt.runtime.walkforward import FoldOutcome

    return FoldOutcome(
        FoldResult.model_validate_json(data["result.json"]),
        np.frombuffer(base64.b64decode(data["testEquity"]), dtype="<f8").copy(),
        np.frombuffer(base64.b64decode(data["tradePnls"]), dtype="<f8").copy(),
        int(data["barsInMarket"]),
    )


def stored_folds(results: StoredResults, name: str, revision: str, folds: int) -> list[FoldOutcome]:
    """Every fold's stored outcome, in order.

    Raises:
        ResultMissingError: a fold has none.
    """
    missing = missing_folds(results, name, revision, folds)
    if missing:
        names = [fold_result_name(name, revision, i) for i in missing]
        raise ResultMissingError(f"the walk-forward results {names} are missing")
    return [decode_fold(results[fold_result_name(name, revision, i)]) for i in range(folds)]


# -- a run's status and progress ---------------------------------------------------------


def status_data(document: Mapping[str, Any]) -> dict[str, str]:
    """A finished run's status, as the result ConfigMap's data."""
    return {_STATUS: json.dumps(document)}


def progress_data(progress: Mapping[str, Any]) -> dict[str, str]:
    """A single-Job search's progress, as the progress ConfigMap's data."""
    return {_PROGRESS: json.dumps(progress)}


def stored_status(results: StoredResults, name: str, revision: str) -> dict[str, Any] | None:
    """The status the run's Job stored; None when it stored none.

    Raises:
        ResultMissingError: what it stored is not a JSON object.
    """
    try:
        return _json_object(results, result_name(name, revision), _STATUS)
    except ValueError:
        raise ResultMissingError("its result is not a JSON object") from None


def stored_progress(results: StoredResults, name: str, revision: str) -> dict[str, Any] | None:
    """The progress a single-Job search last stored, if any (and readable)."""
    try:
        return _json_object(results, progress_name(name, revision), _PROGRESS)
    except ValueError:
        return None


def _json_object(results: StoredResults, config_map: str, key: str) -> dict[str, Any] | None:
    """The JSON object at ``key``; None when absent.

    Raises:
        ValueError: it is not a JSON object.
    """
    text = results.get(config_map, {}).get(key)
    if text is None:
        return None
    found = json.loads(text)
    if not isinstance(found, dict):
        raise ValueError(f"{config_map}/{key} is not a JSON object")
    return found


# -- a finished search's evaluations -----------------------------------------------------


def _packed(rows: Sequence[Mapping[str, float]], kept: Sequence[int]) -> str:
    columns = list(dict.fromkeys(key for row in rows for key in row))
    table = {
        "columns": columns,
        "total": len(rows),
        "kept": list(kept),
        "rows": [[rows[i].get(c) for c in columns] for i in kept],
    }
    text = json.dumps(table, separators=(",", ":")).encode()
    return base64.b64encode(gzip.compress(text, mtime=0)).decode()


def encode_evaluations(
    rows: Sequence[Mapping[str, float]], limit: int = EVALUATIONS_BYTES
) -> tuple[dict[str, str], int]:
    """Every evaluation (its parameters and metrics, in order) as a ConfigMap's data, and
    how many it keeps: all when they fit in ``limit`` bytes, else the most of an even
    sample over the search (its first and last always in) that fit."""
    count = len(rows)
    packed = _packed(rows, range(count))
    kept = count
    while len(packed) > limit and kept > 2:
        kept = max(2, min(kept - 1, int(kept * limit / len(packed) * 0.97)))
        packed = _packed(rows, evenly(count, kept))
    return {_EVALUATIONS: packed}, kept


def evenly(count: int, kept: int) -> list[int]:
    """``kept`` indices spread evenly over ``range(count)``, both ends included."""
    if kept >= count:
        return list(range(count))
    if kept <= 1:
        return [0][:kept]
    return sorted({round(i * (count - 1) / (kept - 1)) for i in range(kept)})


def stored_evaluations(
    results: StoredResults, name: str, revision: str
) -> tuple[list[dict[str, float]], list[int], int] | None:
    """A finished search's kept evaluations (each its parameters and metrics), their
    numbers in the search, and how many it made; None when none are stored."""
    found = results.get(evaluations_name(name, revision), {}).get(_EVALUATIONS)
    if found is None:
        return None
    try:
        table = json.loads(gzip.decompress(base64.b64decode(found)))
        columns = table["columns"]
        rows = [
            {c: v for c, v in zip(columns, row, strict=True) if v is not None}
            for row in table["rows"]
        ]
        return rows, list(table["kept"]), int(table["total"])
    except (ValueError, KeyError, TypeError, OSError, EOFError):
        raise ResultMissingError("its stored evaluations are unreadable") from None
