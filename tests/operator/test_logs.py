from __future__ import annotations

import logging

import pytest

from stratopt.operator.logs import downgrade_retried_requests


@pytest.mark.parametrize(
    ("message", "level"),
    [
        ("Request attempt #1/17 failed; will retry: GET /apis -> 429", "WARNING"),
        ("Request attempt #17/17 failed; escalating: GET /apis -> 503", "ERROR"),
        ("reconciling failed (attempt 2, next in 1s): will retry", "ERROR"),
    ],
)
def test_a_retried_request_logs_a_warning_whichever_logger_kopf_passed(
    message: str, level: str
) -> None:
    """kopf logs a request's attempts through its caller's logger (a watch's, an
    object's): the handler, not one logger, downgrades them."""
    root = logging.getLogger("stratopt-test-root")
    seen: list[logging.LogRecord] = []
    sink = logging.Handler()
    sink.emit = seen.append  # type: ignore[method-assign]
    root.addHandler(sink)
    try:
        downgrade_retried_requests(root)
        downgrade_retried_requests(root)  # installed once, however often called
        assert len(sink.filters) == 1
        logging.getLogger("stratopt-test-root.kopf._core.reactor.queueing").error(message)
    finally:
        root.removeHandler(sink)
    assert [r.levelname for r in seen] == [level]
