"""The one exception a built-in step raises for problems the user can fix."""

from __future__ import annotations

import difflib
from collections.abc import Sequence


class StepError(Exception):
    """A user-caused failure of a built-in step.

    `message` is one line saying what is wrong; `hint` says what to do next.
    """

    def __init__(self, message: str, hint: str) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return f"{self.message} (hint: {self.hint})"


def first_line(exc: BaseException) -> str:
    """The first line of an exception's text, for one-line StepError messages."""
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


COLUMNS_SHOWN = 30  # a wide table's hint names this many columns, then counts the rest


def column_hint(name: str, columns: Sequence[str]) -> str:
    """A hint for an unknown column: the closest match, if any, and the list of columns.

    The list comes even with a suggestion: a close spelling is not always the column
    that was meant (`target: progresion` is near `age` in a short list)."""
    shown = list(columns[:COLUMNS_SHOWN])
    more = len(columns) - len(shown)
    listing = "columns are: " + ", ".join(shown) + (f" and {more} more" if more > 0 else "")
    close = difflib.get_close_matches(name, list(columns), n=1)
    if close:
        return f"did you mean '{close[0]}'? {listing}"
    return listing
