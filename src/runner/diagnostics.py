"""Render problems for people (text), machines (json) and GitHub (annotations)."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence

from runner.errors import Problem

FORMATS = ("text", "json", "github")
# Control characters from the user's input (a name ending in a newline) would
# break the one-line message apart; show them escaped, as Python's repr does.
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def _one_line(text: str) -> str:
    return _CONTROL.sub(lambda m: repr(m.group())[1:-1], text)


def render(problems: Sequence[Problem], fmt: str, *, severity: str = "error") -> str:
    if fmt == "json":
        return json.dumps([_as_dict(p, severity) for p in problems], indent=2) + "\n"
    if fmt == "github":
        return "".join(_annotation(p, severity) + "\n" for p in problems)
    return "".join(_text(p, severity) for p in problems)


def render_output(output: str) -> str:
    """What a failed command printed, under its error: each line indented behind a
    bar and escaped as a message is, so it reads as quoted output."""
    return "".join(f"  | {_one_line(line)}\n" for line in output.splitlines())


def _where(p: Problem) -> str:
    parts = [p.file] if p.file else []
    if p.file and p.line:
        parts.append(str(p.line))
        if p.col:
            parts.append(str(p.col))
    return ":".join(parts)


def _text(p: Problem, severity: str) -> str:
    where = _where(p)
    message = _one_line(p.message)
    out = f"{where}: {severity}: {message}\n" if where else f"{severity}: {message}\n"
    if p.source is not None and p.line:
        number = str(p.line)
        out += f"  {number} | {p.source.rstrip()}\n"
        if p.col:
            out += f"  {' ' * len(number)} | {' ' * (p.col - 1)}^\n"
    if p.hint:
        out += f"  hint: {p.hint}\n"
    return out


def _as_dict(p: Problem, severity: str) -> dict[str, object]:
    return {
        "file": p.file or None,
        "line": p.line,
        "col": p.col,
        "severity": severity,
        "message": p.message,
        "hint": p.hint,
    }


def _escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(text: str) -> str:
    return _escape_data(text).replace(":", "%3A").replace(",", "%2C")


def _annotation(p: Problem, severity: str) -> str:
    props = []
    if p.file:
        props.append(f"file={_escape_property(p.file)}")
    if p.line:
        props.append(f"line={p.line}")
    if p.col:
        props.append(f"col={p.col}")
    props.append("title=mlops")
    body = p.message + (f"\n\nhint: {p.hint}" if p.hint else "")
    return f"::{severity} {','.join(props)}::{_escape_data(body)}"
