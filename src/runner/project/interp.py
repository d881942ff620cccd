"""`${name.path}` references from stage options into a pipeline's params.

A value that is exactly one reference keeps the referenced value's type
(`"${train}"` becomes the whole mapping); a reference inside a longer string
is formatted into it. Used by `validate` (to check references and the resolved
options) and by built-in steps at run time (so `dvc exp run -S` takes effect).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any

from runner.config import dotted as dotted_path

# Keys may hold a hyphen (`${metrics.roc-auc}`) and a list position (`${item.files.0}`),
# as DVC's own references may.
REF = re.compile(r"\$\{\s*([A-Za-z_][A-Za-z0-9_-]*(?:\.(?:[A-Za-z_][A-Za-z0-9_-]*|[0-9]+))*)\s*\}")


class RefError(LookupError):
    def __init__(self, ref: str, reason: str) -> None:
        super().__init__(f"${{{ref}}}: {reason}")
        self.ref = ref
        self.reason = reason


def refs(value: Any) -> Iterator[str]:
    """Every reference inside `value`, depth first."""
    if isinstance(value, str):
        yield from (m.group(1) for m in REF.finditer(value))
    elif isinstance(value, Mapping):
        for item in value.values():
            yield from refs(item)
    elif isinstance(value, list):
        for item in value:
            yield from refs(item)


def lookup(params: Mapping[str, Any], dotted: str) -> Any:
    """The param at `dotted`; RefError says why there is none."""
    try:
        return dotted_path.lookup(params, dotted)
    except dotted_path.PathError as exc:
        walked = ".".join(exc.walked)
        if not exc.missing:
            raise RefError(dotted, f"'{walked}' is not a mapping") from None
        where = f"'{walked}'" if exc.walked else "params"
        raise RefError(dotted, f"no key '{exc.part}' in {where}") from None


def resolve(value: Any, params: Mapping[str, Any]) -> Any:
    """Replace references in `value` with values from `params`."""
    if isinstance(value, str):
        whole = REF.fullmatch(value)
        if whole:
            return lookup(params, whole.group(1))

        def one(match: re.Match[str]) -> str:
            found = lookup(params, match.group(1))
            if isinstance(found, (Mapping, list)):
                raise RefError(match.group(1), "a mapping or list cannot be part of a string")
            return str(found)

        return REF.sub(one, value)
    if isinstance(value, Mapping):
        return {key: resolve(item, params) for key, item in value.items()}
    if isinstance(value, list):
        return [resolve(item, params) for item in value]
    return value


def as_text(value: Any) -> str:
    """A scalar as DVC writes it into a string (`true`, not `True`)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def fill(value: Any, context: Mapping[str, Any]) -> Any:
    """Replace the references whose first key is in `context`; leave the others as written.

    Used to expand a `foreach:`/`matrix:` body (`${item}`, `${key}`) and paths written
    with params, as DVC does when it reads `dvc.yaml`.
    """
    if isinstance(value, str):

        def one(match: re.Match[str]) -> str:
            ref = match.group(1)
            if ref.split(".", 1)[0] not in context:
                return match.group(0)
            found = lookup(context, ref)
            if isinstance(found, (Mapping, list)):
                raise RefError(ref, "a mapping or list cannot be part of a string")
            return as_text(found)

        return REF.sub(one, value)
    if isinstance(value, Mapping):
        return {fill(key, context): fill(item, context) for key, item in value.items()}
    if isinstance(value, list):
        return [fill(item, context) for item in value]
    return value
