"""One exception root for everything the tool reports to a user.

Each class carries its exit code; `cli.main` is the single boundary that turns
an `MlopsError` into output and an exit status. Library code raises these and
never prints.
"""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from dataclasses import dataclass

EXIT_OK = 0
EXIT_CHECK_FAILED = 1
EXIT_CONFIG = 2
EXIT_INTERNAL = 3


def did_you_mean(word: str, choices: Sequence[str]) -> str:
    """` (did you mean 'x'?)` for the closest of `choices`, or an empty string.

    The word itself is never suggested: when it is one of the choices, the problem is
    something other than its spelling, and the caller's hint must say what."""
    others = [choice for choice in choices if choice != word]
    close = difflib.get_close_matches(word, others, n=1, cutoff=0.6)
    return f" (did you mean '{close[0]}'?)" if close else ""


@dataclass(frozen=True)
class Problem:
    """One thing wrong with the user's input, located as precisely as we can."""

    file: str
    line: int | None
    col: int | None
    message: str
    hint: str | None = None
    # The offending source line, shown under the message.
    source: str | None = None

    def sort_key(self) -> tuple[str, int, int, str]:
        return (self.file, self.line or 0, self.col or 0, self.message)


class MlopsError(Exception):
    """Root of every error the tool expects; carries a hint and an exit code."""

    exit_code = EXIT_INTERNAL

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    @property
    def problems(self) -> Sequence[Problem]:
        return (Problem(file="", line=None, col=None, message=self.message, hint=self.hint),)


class UsageError(MlopsError):
    """The command line or the project layout is wrong (exit 2)."""

    exit_code = EXIT_CONFIG


class ConfigError(MlopsError):
    """One or more problems in the YAML files (exit 2)."""

    exit_code = EXIT_CONFIG

    def __init__(self, problems: Sequence[Problem]) -> None:
        ordered = sorted(problems, key=Problem.sort_key)
        first = ordered[0] if ordered else None
        super().__init__(
            first.message if first else "invalid configuration", first.hint if first else None
        )
        self._problems = tuple(ordered)

    @property
    def problems(self) -> Sequence[Problem]:
        return self._problems


class CheckFailed(MlopsError):
    """A check ran and said no: a gate, stale files, a refused promotion (exit 1)."""

    exit_code = EXIT_CHECK_FAILED


class ExternalCommandError(MlopsError):
    """A subprocess (git, dvc) failed: the message says what ran and the cause it gave
    (`cause`, the line of its output that says what went wrong); `output` is the end of
    what it printed, shown under the error (`proc.command_error`)."""

    exit_code = EXIT_CHECK_FAILED

    def __init__(
        self, message: str, hint: str | None = None, *, output: str = "", cause: str = ""
    ) -> None:
        super().__init__(message, hint)
        self.output = output
        self.cause = cause or message
