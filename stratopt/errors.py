"""Domain errors shared by every layer.

Every error that reaches a user names the field or input at fault and says what to fix.
The command line prints them and exits non-zero; the operator turns them into a
``Failed`` condition whose reason is the error's ``reason`` constant.
"""

from __future__ import annotations

#: Longest field path and message an error carries: whatever a value holds, a message
#: stays one that a terminal line, a condition and an Event can show.
FIELD_LIMIT = 300
MESSAGE_LIMIT = 1500


def bounded(text: str, limit: int) -> str:
    """``text`` printable and at most ``limit`` characters."""
    text = "".join(c if c.isprintable() or c == "\n" else "?" for c in str(text))
    return text if len(text) <= limit else text[: limit - 1] + "…"


class StratoptError(Exception):
    """Base class of stratopt's own errors."""

    reason = "Error"


class InputError(StratoptError):
    """Bad user input: a spec field, a data file, a parameter value.

    Args:
        field: dotted path of the offending field, e.g. ``spec.backtest.data.source``.
        message: what is wrong and what to do about it.
    """

    reason = "InvalidInput"

    def __init__(self, field: str, message: str) -> None:
        self.field = bounded(field, FIELD_LIMIT)
        self.message = bounded(message, MESSAGE_LIMIT)
        super().__init__(f"{self.field}: {self.message}")

    def __reduce__(self) -> tuple[type[InputError], tuple[str, str]]:
        # Errors raised in worker processes come back whole, as in one process.
        return type(self), (self.field, self.message)


class DataError(InputError):
    """Market data that cannot be used as given (missing file, NaN, unsorted bars...)."""

    reason = "InvalidData"


class DataNotice(UserWarning):
    """Something about the data the user should know, though nothing is wrong with it;
    ``stratopt run`` prints it as a ``note:`` line."""
