"""Turn pydantic validation errors into problems that point at YAML lines.

Pydantic reports a `loc` tuple that mixes data keys with union tags (`step`,
`directory`, ...). We walk the model types and the data side by side so that
tags are skipped, then ask the document for the mark of the data path,
climbing to a parent where a value has no mark of its own (as DVC's
`strictyaml.determine_linecol` does).
"""

from __future__ import annotations

import datetime
import re
import types
from typing import Annotated, Any, Literal, Union, get_args, get_origin

from pydantic import BaseModel, ValidationError
from pydantic import Tag as _Tag

from runner.errors import Problem, did_you_mean
from runner.yamlio import Document, Loc, format_loc

_PATTERN_HINTS = {
    "url": "an S3 URL looks like s3://bucket/prefix",
    "endpoint_url": "an endpoint looks like http://127.0.0.1:9000",
    "estimator": "give a dotted import path, e.g. sklearn.ensemble.RandomForestClassifier",
    "main_branch": "give a git branch name such as main or release/2026",
    "runs_on": "give a runner label such as ubuntu-latest",
    "python": 'give a Python version such as "3.11"',
}


def describe(value: Any) -> str:
    """How a YAML value reads, for messages: `the string '0.9'`, `a boolean (no)`."""
    if isinstance(value, bool):
        return f"a boolean ({str(value).lower()})"
    if value is None:
        return "null"
    if isinstance(value, (int, float)):
        return f"the number {value}"
    if isinstance(value, str):
        return f"the string {value!r}"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    return f"a {type(value).__name__} ({value})"


def problems_from(
    exc: ValidationError,
    root: type[BaseModel] | Any,
    doc: Document,
    *,
    data: Any,
    prefix: Loc = (),
) -> list[Problem]:
    """Problems for every error in `exc`, located in `doc` (`data` sits at `prefix`)."""
    out: list[Problem] = []
    seen: set[tuple[Loc, str]] = set()
    for err in exc.errors(include_url=False):
        path, parent_type = _walk(root, data, tuple(err["loc"]))
        full = (*prefix, *path)
        message, hint, prefer_key = _message(err, path, parent_type, doc, full)
        hint = hint or "see docs/configuration.md for the keys and values allowed here"
        if err["type"] in ("missing", "union_tag_not_found") and full:
            full = full[:-1]  # point at the mapping that lacks the key
        if full and full[-1] == "[key]":
            # A mapping key that is not allowed (e.g. `provides: {dataa: ...}`): point at it.
            full, prefer_key = full[:-1], True
            message = message.replace(
                f"{describe(err['input'])} is not allowed", f"unknown key '{err['input']}'", 1
            )
        where = format_loc(full)
        text = f"{where}: {message}" if where else message
        key = (full, text)
        if key in seen:
            continue
        seen.add(key)
        out.append(doc.problem(full, text, hint, prefer_key=prefer_key))
    return out


def _message(
    err: Any, path: Loc, parent_type: Any, doc: Document, full: Loc
) -> tuple[str, str | None, bool]:
    kind = err["type"]
    value = err.get("input")
    ctx = err.get("ctx") or {}
    last = path[-1] if path else None
    if kind == "extra_forbidden":
        allowed = _keys_of(parent_type)
        return (
            f"unknown key '{last}'{did_you_mean(str(last), allowed)}",
            f"allowed keys here: {', '.join(allowed)}" if allowed else None,
            True,
        )
    if kind == "missing":
        return f"missing required key '{last}'", f"add `{last}:` here", True
    if kind == "string_type":
        hint = None
        if isinstance(value, (bool, int, float, datetime.date)) or value is None:
            token = _token(doc, full) or str(value)
            hint = f'quote it to keep it a string: "{token}"'
        return f"expected a string, got {describe(value)}", hint, False
    if kind in ("int_type", "float_type", "int_parsing", "float_parsing", "int_from_float"):
        want = "an integer" if kind.startswith("int") else "a number"
        hint = "remove the quotes" if isinstance(value, str) and _numeric(value) else None
        return f"expected {want}, got {describe(value)}", hint, False
    if kind == "finite_number":
        return (
            f"must be a finite number, got {value}",
            "NaN and infinity are not thresholds; give a real number",
            False,
        )
    if kind == "bool_type":
        return f"expected true or false, got {describe(value)}", "write true or false", False
    if kind == "literal_error":
        expected = _choices(str(ctx.get("expected", "")))
        return (
            f"{describe(value)} is not allowed{did_you_mean(str(value), expected)}",
            f"use one of: {', '.join(expected)}" if expected else None,
            False,
        )
    if kind == "union_tag_invalid":
        expected = _choices(str(ctx.get("expected_tags", "")))
        tag = ctx.get("tag")
        return (
            f"unknown kind '{tag}'{did_you_mean(str(tag), expected)}",
            f"kind is one of: {', '.join(expected)}",
            False,
        )
    if kind == "union_tag_not_found":
        key = str(ctx.get("discriminator", "kind")).strip("'")
        tags = ", ".join(_choices(str(ctx.get("expected_tags", ""))))
        return f"missing required key '{key}'", f"add `{key}:` (one of: {tags})", True
    if kind == "stage_kind":
        return err["msg"], "add `step: <name>` or `cmd: <command>`", True
    if kind in ("dict_type", "model_type", "model_attributes_type"):
        return f"expected a mapping, got {describe(value)}", None, False
    if kind == "list_type":
        return f"expected a list, got {describe(value)}", None, False
    bound = _BOUNDS.get(kind)
    if bound is not None:
        limit = next(iter(ctx.values()), "")
        return f"must be {bound} {limit}, got {value}", None, False
    if kind == "too_short":
        return "must not be empty", None, False
    if kind == "string_pattern_mismatch":
        return f"{describe(value)} is not valid", _PATTERN_HINTS.get(str(last)), False
    if kind == "value_error":
        return str(err["msg"]).removeprefix("Value error, "), None, False
    return str(err["msg"]), None, False


_BOUNDS = {
    "less_than": "less than",
    "less_than_equal": "at most",
    "greater_than": "greater than",
    "greater_than_equal": "at least",
}


def _choices(text: str) -> list[str]:
    """`"'a', 'b' or 'c'"` or `"1"` -> the listed choices."""
    quoted = re.findall(r"'([^']*)'", text)
    return quoted or [part for part in re.split(r",\s*|\s+or\s+", text) if part]


def _numeric(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _token(doc: Document, loc: Loc) -> str | None:
    mark = doc.values.get(loc)
    if mark is None:
        return None
    line = doc.source_line(mark.line) or ""
    found = re.match(r"[^\s,}\]#]+", line[mark.col - 1 :])
    return found.group(0) if found else None


# ------------------------------------------------------- types and data walk


def _unwrap(tp: Any) -> Any:
    while True:
        origin = get_origin(tp)
        if origin is Annotated:
            tp = get_args(tp)[0]
        elif origin in (Union, types.UnionType):
            members = [a for a in get_args(tp) if a is not type(None)]
            if len(members) != 1:
                return tp
            tp = members[0]
        else:
            return tp


def _union_member(tp: Any, part: Any) -> Any:
    """The member of a tagged union named by `part`, or None."""
    if get_origin(tp) not in (Union, types.UnionType):
        return None
    for member in get_args(tp):
        if get_origin(member) is Annotated:
            base, *meta = get_args(member)
            if any(isinstance(m, _Tag) and m.tag == part for m in meta):
                return base
            member = base
        if isinstance(member, type) and issubclass(member, BaseModel):
            kind = member.model_fields.get("kind")
            literal = kind is not None and get_origin(kind.annotation) is Literal
            if literal and part in get_args(kind.annotation):  # type: ignore[union-attr]
                return member
    return None


def _child_type(tp: Any, part: Any) -> Any:
    tp = _unwrap(tp)
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        for name, field in tp.model_fields.items():
            if part in (name, field.alias):
                return field.annotation
        return None
    origin = get_origin(tp)
    if origin is dict:
        return get_args(tp)[1]
    if origin is list:
        return get_args(tp)[0]
    return None


def _walk(root: Any, data: Any, loc: Loc) -> tuple[Loc, Any]:
    """Data path for a pydantic `loc`, and the type that holds its last part."""
    tp, node = root, data
    path: list[str | int] = []
    parent: Any = root
    for part in loc:
        member = _union_member(_unwrap(tp), part)
        if member is not None:
            tp = member
            continue
        parent = tp
        node = _child(node, part)
        path.append(part)
        tp = _child_type(tp, part)
    return tuple(path), _unwrap(parent)


def _child(node: Any, part: str | int) -> Any:
    if isinstance(node, dict) and part in node:
        return node[part]
    if isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
        return node[part]
    return None


def _keys_of(tp: Any) -> list[str]:
    tp = _unwrap(tp)
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        return [field.alias or name for name, field in tp.model_fields.items()]
    return []
