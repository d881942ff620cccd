"""Property: loading any text or bytes either succeeds or raises the tool's ConfigError."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from runner.errors import ConfigError
from runner.yamlio import parse

# Fragments that steer random text towards YAML's tricky corners.
_FRAGMENTS = st.sampled_from(
    [
        "a: 1\n",
        "- x\n",
        "&a ",
        "*a",
        "!!python/object:os.system ",
        "<<: ",
        "? ",
        ": ",
        "\t",
        "---\n",
        "...\n",
        "{",
        "}",
        "[",
        "]",
        '"',
        "'",
        "|\n",
        ">\n",
        "#",
        "%YAML 1.2\n",
        "<<<<<<< HEAD\n",
        ".nan",
        "no",
        "~",
        "\x00",
        "\ufeff",
        "  ",
        "\n",
    ]
)


def _load(data: str | bytes) -> None:
    try:
        doc = parse(data, "f.yaml")
    except ConfigError as exc:
        problem = exc.problems[0]
        assert problem.file == "f.yaml"
        assert problem.message and problem.hint
        return
    assert isinstance(doc.data, dict)


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=200))
def test_arbitrary_text(text: str) -> None:
    _load(text)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=200))
def test_arbitrary_bytes(data: bytes) -> None:
    _load(data)


@settings(max_examples=300, deadline=None)
@given(st.lists(_FRAGMENTS, max_size=20).map("".join))
def test_yaml_like_text(text: str) -> None:
    _load(text)
