"""Deterministic YAML for generated files: insertion order, block style, no aliases.

The text is exactly what PyYAML's `SafeDumper` writes with the settings below
(lists indented under their key, no line folding, unicode kept). PyYAML's
emitter is pure Python and was most of the time of a large compile (2.4 s of
it at 1,000 pipelines), so the common case -- mappings, lists and printable
ASCII scalars on one line -- is written here directly, and anything else
(non-ASCII or multi-line text, other types, very long keys or lines) goes
through PyYAML. `tests/test_yamlout.py` checks both give the same bytes.
"""

from __future__ import annotations

import re
from typing import Any

import yaml

_WIDTH = 100_000
_STR = "tag:yaml.org,2002:str"
_FLOAT = "tag:yaml.org,2002:float"
# Printable ASCII on one line: anything else may be quoted, escaped or folded.
_ASCII_LINE = re.compile(r"[\x20-\x7e]*")
# What keeps PyYAML from writing a scalar plain in block context (its analyze_scalar):
# an indicator first, `---`/`...` first, `: ` or ` #` inside, space at either end.
_NOT_PLAIN = re.compile(r"^[#,\[\]{}&*!|>'\"%@`]|^[?:-](?: |$)|^---|^\.\.\.|: |:$| #|^ | $")
# Plain whatever the resolver says: a path or name of these characters, not starting
# with an indicator; with a "/" no implicit type (bool, number, null, date) matches.
_PATHLIKE = re.compile(r"[A-Za-z0-9_/][A-Za-z0-9_./-]*")
# Lines past PyYAML's width would be folded; a key of 123 characters or more (128 with
# the "!!str" tag PyYAML counts) is written as a complex key.
_MAX_SCALAR = 10_000
_MAX_KEY = 122
_MAX_INDENT = 1_000
_MAX_CACHED = 200_000


class _Dumper(yaml.SafeDumper):
    """SafeDumper that never writes anchors and indents lists under their key."""

    def ignore_aliases(self, data: Any) -> bool:
        return True

    def increase_indent(self, flow: bool = False, indentless: bool = False) -> None:
        super().increase_indent(flow, False)


class _Unusual(Exception):
    """A value the direct writer leaves to PyYAML."""


def dump(data: Any) -> str:
    """`data` as block-style YAML, keys in insertion order, ending in a newline."""
    if type(data) in (dict, list) and data:
        try:
            return _Writer().document(data)
        except _Unusual:
            pass
    return yaml.dump(
        data,
        Dumper=_Dumper,
        sort_keys=False,
        default_flow_style=False,
        allow_unicode=True,
        width=_WIDTH,
    )


_RESOLVER = yaml.resolver.Resolver()


def _resolve(text: str) -> str:
    """The tag PyYAML reads a plain scalar `text` as."""
    return str(_RESOLVER.resolve(yaml.ScalarNode, text, (True, False)))  # type: ignore[no-untyped-call]


class _Writer:
    """Writes block YAML as `_Dumper` does, for the values `dump` lets through."""

    # Generated files repeat their strings (paths, commands, keys): each one's text,
    # shared by every document of a compile. Bounded.
    scalars: dict[str, str] = {}

    def __init__(self) -> None:
        self.parts: list[str] = []

    def document(self, data: dict[Any, Any] | list[Any]) -> str:
        if isinstance(data, dict):
            self._mapping(data, 0, inline=False)
        else:
            self._sequence(data, 0, inline=False)
        return "".join(self.parts)

    def _mapping(self, data: dict[Any, Any], indent: int, *, inline: bool) -> None:
        if indent > _MAX_INDENT:
            raise _Unusual
        parts = self.parts
        pad = " " * indent
        for key, value in data.items():
            # An empty or long key is written as a complex key (`? key`).
            if type(key) is not str or not key or len(key) > _MAX_KEY:
                raise _Unusual
            if inline:
                inline = False  # the first key follows the "- " of its list item
            else:
                parts.append(pad)
            parts.append(self._scalar(key))
            kind = type(value)
            if kind is dict or kind is list:
                if not value:
                    parts.append(": {}\n" if kind is dict else ": []\n")
                elif kind is dict:
                    parts.append(":\n")
                    self._mapping(value, indent + 2, inline=False)
                else:
                    parts.append(":\n")
                    self._sequence(value, indent + 2, inline=False)
            else:
                parts.append(": ")
                parts.append(self._scalar(value))
                parts.append("\n")

    def _sequence(self, data: list[Any], indent: int, *, inline: bool) -> None:
        parts = self.parts
        pad = " " * indent
        for item in data:
            if inline:
                inline = False
            else:
                parts.append(pad)
            kind = type(item)
            if kind is dict or kind is list:
                if not item:
                    parts.append("- {}\n" if kind is dict else "- []\n")
                elif kind is dict:
                    parts.append("- ")
                    self._mapping(item, indent + 2, inline=True)
                else:
                    parts.append("- ")
                    self._sequence(item, indent + 2, inline=True)
            else:
                parts.append("- ")
                parts.append(self._scalar(item))
                parts.append("\n")

    def _scalar(self, value: object) -> str:
        if type(value) is not str:
            return self._render(value)
        assert isinstance(value, str)
        text = self.scalars.get(value)
        if text is None:
            text = self._render(value)
            if len(self.scalars) >= _MAX_CACHED:
                self.scalars.clear()
            self.scalars[value] = text
        return text

    def _render(self, value: object) -> str:
        kind = type(value)
        if kind is str:
            assert isinstance(value, str)
            if len(value) > _MAX_SCALAR or _ASCII_LINE.fullmatch(value) is None:
                raise _Unusual
            if "/" in value and _PATHLIKE.fullmatch(value):
                return value
            plain = value != "" and _NOT_PLAIN.search(value) is None and _resolve(value) == _STR
            return value if plain else "'" + value.replace("'", "''") + "'"
        if kind is bool:
            return "true" if value else "false"
        if value is None:
            return "null"
        if kind is int:
            return str(value)
        if kind is float:
            assert isinstance(value, float)
            return self._float(value)
        raise _Unusual

    def _float(self, value: float) -> str:
        # As SafeRepresenter.represent_float writes it.
        if value != value:
            return ".nan"
        if value in (float("inf"), float("-inf")):
            return ".inf" if value > 0 else "-.inf"
        text = repr(value).lower()
        if "." not in text and "e" in text:
            text = text.replace("e", ".0e", 1)
        if _resolve(text) != _FLOAT:
            raise _Unusual  # PyYAML would tag it
        return text
