"""The protocol between the operator and worker pods: the names of a run's Jobs, the
labels and owner references of what it creates, and how a worker says it failed (exit
codes, termination message). What the pods and the operator store in ConfigMaps, and
how, is :mod:`stratopt.runtime.stored`."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any, NamedTuple

from stratopt.api._resource import GROUP, VERSION
from stratopt.api.v1alpha1.status import Reason

#: Exit code of a worker that found bad input: the Job fails at once, without retries.
BAD_INPUT_EXIT_CODE = 2
#: Where a worker leaves why it failed, as JSON {"reason", "message"}; the kubelet makes
#: it the container's termination message.
TERMINATION_LOG = "/dev/termination-log"
#: A worker told to stop (SIGTERM: suspend, delete, preemption) exits with 128 + 15.
STOPPED_EXIT_CODE = 143


def revision(spec: Mapping[str, Any]) -> str:
    """What a run computes, as ten hex digits: a hash of its spec without ``suspend``.

    Names and labels carry the revision rather than ``metadata.generation``, because every
    spec edit bumps the generation, and suspending or resuming must not restart a run.
    """
    relevant = {key: value for key, value in spec.items() if key != "suspend"}
    canonical = json.dumps(relevant, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()[:10]


#: A label value's limit; run names may be up to 253 characters.
LABEL_LIMIT = 63


def _shortened(name: str, limit: int) -> str:
    """``name`` itself when it fits in ``limit``, else its head and a hash of the whole,
    so that two long names sharing a head never give the same result."""
    if len(name) <= limit:
        return name
    digest = hashlib.sha256(name.encode()).hexdigest()[:10]
    return f"{name[: limit - len(digest) - 1].rstrip('.-')}-{digest}"


def bounded_name(name: str, suffix: str, limit: int = LABEL_LIMIT) -> str:
    """``name`` + ``suffix`` within ``limit``: the name is shortened, never the suffix."""
    return _shortened(name, limit - len(suffix)) + suffix


def run_label(name: str) -> str:
    """The value of the ``stratopt.io/run`` label of what a run creates: its name, or a
    shortened one for names over 63 characters (the full name is in the
    ``stratopt.io/run-name`` annotation)."""
    return _shortened(name, LABEL_LIMIT)


def job_name(name: str, revision: str) -> str:
    """Deterministic, so a restarted operator finds the Job it already created."""
    return bounded_name(name, f"-{revision}")


def batch_job_name(name: str, revision: str, batch: int) -> str:
    """The Indexed Job evaluating batch ``batch`` of a distributed search."""
    return bounded_name(name, f"-{revision}-b{batch}")


def folds_job_name(name: str, revision: str) -> str:
    """The Indexed Job whose pod *i* runs walk-forward fold *i*."""
    return bounded_name(name, f"-{revision}-folds")


def finalize_job_name(name: str, revision: str) -> str:
    """The Job that summarizes a distributed search (front, diagnostics, walk-forward)."""
    return bounded_name(name, f"-{revision}-final")


def owner_reference(kind: str, name: str, uid: str) -> dict[str, Any]:
    """Makes the run own an object, so deleting the run deletes it."""
    return {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": kind,
        "name": name,
        "uid": uid,
        "controller": True,
        "blockOwnerDeletion": True,
    }


def run_labels(kind: str, name: str, revision: str) -> dict[str, str]:
    return {
        "app.kubernetes.io/managed-by": "stratopt",
        "stratopt.io/kind": kind.lower(),
        "stratopt.io/run": run_label(name),
        "stratopt.io/revision": revision,
    }


#: The batch a Job, its pods and its shards' ConfigMaps belong to.
BATCH_LABEL = "stratopt.io/batch"
#: The labels Kueue reads from a Job: its LocalQueue and its priority. A run carrying
#: them passes them to every Job it creates.
QUEUE_LABEL = "kueue.x-k8s.io/queue-name"
PRIORITY_LABEL = "kueue.x-k8s.io/priority-class"
#: Kueue's label on the Workload it creates for a Job: the Job's uid.
WORKLOAD_JOB_LABEL = "kueue.x-k8s.io/job-uid"


def queue_labels(labels: Mapping[str, str]) -> dict[str, str]:
    """The Kueue labels among a run's ``labels``."""
    return {k: v for k, v in labels.items() if k in (QUEUE_LABEL, PRIORITY_LABEL)}


def result_labels(name: str, revision: str) -> dict[str, str]:
    """Labels of the ConfigMaps a worker writes, which ``run_selector`` finds."""
    return {"stratopt.io/run": run_label(name), "stratopt.io/revision": revision}


def run_selector(name: str, revision: str | None = None) -> str:
    """The label selector of what a run (of one ``revision``, if given) created."""
    selector = f"stratopt.io/run={run_label(name)}"
    return selector if revision is None else f"{selector},stratopt.io/revision={revision}"


class WorkerFailure(NamedTuple):
    """Why a worker failed, as its termination message says: the reason (the condition's
    reason), one line for people, and the spec field at fault when there is one."""

    reason: str
    message: str
    field: str | None = None


def failure_report(failure: WorkerFailure) -> str:
    """The termination message of a failed worker: JSON, so that no message (a traceback,
    a colon in a path) is mistaken for part of the reason."""
    return json.dumps({k: v for k, v in failure._asdict().items() if v is not None})


def read_failure(termination_message: str, job_reason: str) -> WorkerFailure:
    """Why a worker failed: its report, or, when it crashed without one (the message is
    then the tail of its log), the Job's reason and that tail's last line."""
    text = termination_message.strip()
    try:
        report = json.loads(text)
    except ValueError:
        report = None
    if isinstance(report, dict) and report.get("reason") and report.get("message"):
        field = report.get("field")
        return WorkerFailure(
            str(report["reason"]), str(report["message"]), None if field is None else str(field)
        )
    last = text.splitlines()[-1] if text else "no message"
    return WorkerFailure(job_reason or Reason.JOB_FAILED, f"the worker failed: {last}")
