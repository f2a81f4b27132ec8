"""The operator's log levels: a request kopf retries is a warning, not an error.

kopf logs each failed attempt of an API request it will retry at ERROR (a 429 while a
new resource's watch cache fills, a control-plane restart). Most succeed on a later
attempt; ERROR is kept for the attempt it gives up on and for reconciles that fail, so
that an alert on ERROR lines means something went wrong.
"""

from __future__ import annotations

import logging

#: kopf's API client, which logs each attempt.
KOPF_CLIENT_LOGGER = "kopf._cogs.clients.api"


class RetriedRequestIsAWarning(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno == logging.ERROR and "; will retry" in record.getMessage():
            record.levelno, record.levelname = logging.WARNING, "WARNING"
        return True


def downgrade_retried_requests() -> None:
    """Install :class:`RetriedRequestIsAWarning` on kopf's client logger (once)."""
    kopf_client = logging.getLogger(KOPF_CLIENT_LOGGER)
    if not any(isinstance(f, RetriedRequestIsAWarning) for f in kopf_client.filters):
        kopf_client.addFilter(RetriedRequestIsAWarning())
