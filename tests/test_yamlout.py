"""The YAML writer of generated files gives exactly PyYAML's bytes, fast path or not."""

from __future__ import annotations

from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from runner.compile import yamlout


def pyyaml(data: Any) -> str:
    """What PyYAML's SafeDumper writes with the settings of generated files."""
    return yaml.dump(
        data,
        Dumper=yamlout._Dumper,
        sort_keys=False,
        default_flow_style=False,
        allow_unicode=True,
        width=100_000,
    )


# Text that steers towards the corners where PyYAML quotes: indicators, `: `,
# ` #`, document markers, words that read as booleans, nulls or numbers.
_PIECES = st.sampled_from(
    [
        "a", "x1", "p0001", "outputs/p/x.parquet", " ", ":", ": ", "#", " #", "-", "- ",
        "?", "---", "...", "'", '"', "${seed}", "{", "}", "[", "]", ",", "&", "*", "!",
        "|", ">", "%", "@", "`", "=", "<<", "~", "null", "Null", "true", "yes", "no",
        "on", "off", "Y", "1", "0x1f", "0o7", "1_000", "1:30", "1.5", ".5", "1e3",
        "1.0e+3", ".inf", "-.inf", ".nan", "+1", "-1", "0", "2001-12-14", "é", "\t",
        "\n", "\x85", "\u2028", "\ufeff", "\x00", "\x7f", "日本",
    ]
)  # fmt: skip
_TEXT = st.lists(_PIECES, max_size=4).map("".join) | st.text(max_size=12)
_SCALARS = (
    _TEXT
    | st.integers()
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.booleans()
    | st.none()
)
_VALUES = st.recursive(
    _SCALARS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(_TEXT, inner, max_size=4),
    max_leaves=25,
)


@settings(max_examples=400, deadline=None)
@given(st.dictionaries(_TEXT, _VALUES, max_size=5) | st.lists(_VALUES, max_size=5))
def test_same_bytes_as_pyyaml(data: Any) -> None:
    assert yamlout.dump(data) == pyyaml(data)


@pytest.mark.parametrize(
    "data",
    [
        {"stages": {"train": {"cmd": "python -m runner.steps", "deps": ["a", "b"], "outs": []}}},
        {"k": [[1, [2, {}]], {"a": [], "b": {"c": None}}]},
        [{"a": 1, "b": [True, False]}, [], {}],
        {"plots": [{"outputs/p/plots/confusion.json": {"template": "confusion"}}]},
        {"desc": "it's: a # test", "n": -0.0, "big": 1e17, "small": 1e-07, "e": ""},
        {"x" * 122: 1},  # the longest simple key
        {"x" * 123: 1},  # a complex key (`? ...`), left to PyYAML
        {"": "empty key"},
        {"long": "y " * 60_000},  # folded past the width, left to PyYAML
        {"t": (1, 2)},  # not a type the writer knows: PyYAML decides (here: it refuses)
    ],
)
def test_edge_cases(data: Any) -> None:
    try:
        expected = pyyaml(data)
    except yaml.YAMLError as err:
        with pytest.raises(type(err)):
            yamlout.dump(data)
        return
    assert yamlout.dump(data) == expected


def test_writes_common_documents_itself() -> None:
    """The generated files' usual shapes never fall back to PyYAML's emitter."""
    writer = yamlout._Writer()
    data = {
        "vars": ["../../params.yaml"],
        "stages": {
            "train": {
                "cmd": "python -m runner.steps train",
                "params": [{"params.yaml": ["iris.train"]}, {"pipelines/iris/steps.yaml": ["t"]}],
                "outs": [{"outputs/iris/evaluate/plots": {"cache": False}}],
                "meta": {"source": "pipelines/iris.yaml:12", "sweep": {"lr": 0.1, "n": 3}},
            }
        },
    }
    assert writer.document(data) == pyyaml(data)
