"""The operator's log levels: a request kopf will retry is a warning, not an error.

kopf logs each failed attempt of an API request it will retry at ERROR (a 429 while a
new resource's watch cache fills, a control-plane restart), through whichever logger
its caller passed. Most succeed on a later attempt. ERROR is kept for the attempt kopf
gives up on and for reconciles that fail, so that an alert on ERROR lines means
something went wrong.
"""

from __future__ import annotations

import logging


class RetriedRequestIsAWarning(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno == logging.ERROR:
            message = record.getMessage()
            if message.startswith("Request attempt") and "; will retry" in message:
                record.levelno, record.levelname = logging.WARNING, "WARNING"
        return True


def downgrade_retried_requests(logger: logging.Logger | None = None) -> None:
    """Install :class:`RetriedRequestIsAWarning` on the handlers of ``logger`` (the root
    logger, where kopf's handler is), once each: a handler's filters see the records of
    every logger that propagates to it."""
    for handler in (logger or logging.getLogger()).handlers:
        if not any(isinstance(f, RetriedRequestIsAWarning) for f in handler.filters):
            handler.addFilter(RetriedRequestIsAWarning())
