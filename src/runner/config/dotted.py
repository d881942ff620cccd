"""Dotted keys into nested mappings (`train.max_depth`): flatten, look up, assign.

Params, sweep keys, `${...}` references and DVC's tracked params all name a
value by its dotted path; this is the one place that walks such paths.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def flatten(value: Any, prefix: str = "") -> dict[str, Any]:
    """Dotted keys to leaves (lists are leaves), under `prefix`; a leaf gives {prefix: value}."""
    if isinstance(value, Mapping):
        out: dict[str, Any] = {}
        for key, item in value.items():
            out.update(flatten(item, f"{prefix}.{key}" if prefix else str(key)))
        return out
    return {prefix: value}


class PathError(LookupError):
    """A dotted path that cannot be followed: `walked` could, `part` could not."""

    def __init__(self, dotted: str, walked: tuple[str, ...], part: str, *, missing: bool) -> None:
        super().__init__(dotted)
        self.dotted = dotted
        self.walked = walked
        self.part = part
        self.missing = missing  # True: no such key; False: `walked` is not a mapping


def lookup(data: Any, dotted: str) -> Any:
    """The value at `dotted` in nested mappings; PathError says where the walk stopped."""
    node = data
    walked: list[str] = []
    for part in dotted.split("."):
        if isinstance(node, list) and part.isdigit():
            # DVC's `${item.files.0}`: a position in a list.
            if int(part) >= len(node):
                raise PathError(dotted, tuple(walked), part, missing=True)
            node = node[int(part)]
            walked.append(part)
            continue
        if not isinstance(node, Mapping):
            raise PathError(dotted, tuple(walked), part, missing=False)
        if part not in node:
            raise PathError(dotted, tuple(walked), part, missing=True)
        node = node[part]
        walked.append(part)
    return node


def assign(data: dict[str, Any], dotted: str, value: Any) -> None:
    """Set `dotted` to `value` in place, creating the mappings on the way."""
    node = data
    *parents, last = dotted.split(".")
    for part in parents:
        node = node.setdefault(part, {})
    node[last] = value
