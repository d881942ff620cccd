"""Name rules: what may become a DVC stage, a git tag part, a job id or a shell word."""

from __future__ import annotations

import re

from runner.errors import Problem
from runner.yamlio import Document, Loc

# One rule for every name that becomes a DVC stage name, a git tag part, a
# workflow job id, a GitHub environment or a shell word: lowercase letters and
# digits, separated by single dashes or underscores.
NAME = re.compile(r"^[a-z][a-z0-9]*(?:[-_][a-z0-9]+)*$")
NAME_MAX = 63
# Param keys: identifiers, or with a hyphen inside (`roc-auc`), which DVC accepts.
PARAM_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(?:-[A-Za-z0-9_]+)*$")
VERSION = re.compile(r"^v(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)$")


def name_problem(value: str) -> str | None:
    """Why `value` is not a safe name, or None."""
    if len(value) > NAME_MAX:
        return f"is longer than {NAME_MAX} characters"
    if not NAME.fullmatch(value):
        return "is not a safe name"
    return None


NAME_HINT = (
    "use lowercase letters and digits separated by '-' or '_', starting with a letter "
    "(names become DVC stages, git tags, workflow job ids and shell words)"
)


def check_name(
    doc: Document, loc: Loc, value: str, what: str, *, key: bool = True
) -> list[Problem]:
    """A problem at `loc` when `value` is not a safe name."""
    why = name_problem(value)
    if why is None:
        return []
    return [doc.problem(loc, f"{what} '{value}' {why}", NAME_HINT, prefer_key=key)]
