from __future__ import annotations

import logging

import pytest

from stratopt.operator.logs import KOPF_CLIENT_LOGGER, downgrade_retried_requests


@pytest.mark.parametrize(
    ("message", "level"),
    [
        ("Request attempt #1/17 failed; will retry: GET /apis -> 429", "WARNING"),
        ("Request attempt #17/17 failed; escalating: GET /apis -> 503", "ERROR"),
    ],
)
def test_a_retried_request_logs_a_warning_and_the_last_attempt_an_error(
    message: str, level: str, caplog: pytest.LogCaptureFixture
) -> None:
    downgrade_retried_requests()
    downgrade_retried_requests()  # installed once, however often called
    with caplog.at_level(logging.DEBUG, logger=KOPF_CLIENT_LOGGER):
        logging.getLogger(KOPF_CLIENT_LOGGER).error(message)
    assert [r.levelname for r in caplog.records] == [level]
