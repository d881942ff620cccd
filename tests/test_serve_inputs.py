"""Every bad request the server refuses, with its exact message (no model, no server)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from runner.serve.inputs import InputError, parse_request
from runner.serve.loader import ModelInput

FEATURES = (
    ModelInput("a", "numeric", missing_ok=False),
    ModelInput("b", "numeric", missing_ok=True),
    ModelInput("colour", "categorical", missing_ok=False),
)


def _col(name: str, data: list[Any], datatype: str = "FP64", shape: Any = None) -> dict[str, Any]:
    return {"name": name, "datatype": datatype, "shape": shape or [len(data)], "data": data}


GOOD = [_col("a", [1.0, 2]), _col("b", [None, 3.5]), _col("colour", ["red", "blue"], "BYTES")]


def _body(inputs: list[dict[str, Any]], **extra: Any) -> bytes:
    return json.dumps({"inputs": inputs, **extra}).encode()


def test_columnar_and_matrix_requests() -> None:
    req = parse_request(_body(GOOD, id="r1"), FEATURES, max_batch=10, classifier=True)
    assert (req.id, req.rows, req.outputs) == ("r1", 2, ("predict",))
    assert req.columns["a"] == [1.0, 2.0] and req.columns["colour"] == ["red", "blue"]
    numeric = FEATURES[:2]
    matrix = {"name": "x", "datatype": "FP32", "shape": [2, 2], "data": [[1, 2], [3, 4]]}
    req = parse_request(_body([matrix]), numeric, max_batch=10, classifier=False)
    assert req.columns == {"a": [1.0, 3.0], "b": [2.0, 4.0]}


BAD: list[tuple[str, bytes, str]] = [
    (
        "malformed JSON",
        b'{"inputs": [',
        "malformed JSON: Expecting value: line 1 column 13 (char 12)",
    ),
    ("not an object", b"[1]", "the request must be a JSON object with 'inputs'"),
    ("no inputs", b'{"inputs": []}', "'inputs' must be a non-empty list of tensors"),
    (
        "missing feature",
        _body(GOOD[:2]),
        "missing input 'colour' (the model needs a, b, colour)",
    ),
    (
        "unknown feature",
        _body([*GOOD, _col("size", [1, 2])]),
        "unknown input 'size': the model takes a, b, colour "
        "(or one 2-D input of 3 columns in that order)",
    ),
    (
        "string where a number belongs",
        _body([_col("a", [1.0, "x"]), *GOOD[1:]]),
        "input 'a': value 'x' at index 1 is not a number",
    ),
    (
        "wrong datatype for a numeric column",
        _body([_col("a", ["1", "2"], "BYTES"), *GOOD[1:]]),
        "input 'a': datatype BYTES, but 'a' is numeric (use FP64 or INT64)",
    ),
    (
        "wrong datatype for a categorical column",
        _body([*GOOD[:2], _col("colour", [1, 2], "INT64")]),
        "input 'colour': datatype INT64, but 'colour' is categorical (use BYTES)",
    ),
    (
        "unknown datatype",
        _body([_col("a", [1, 2], "FLOAT"), *GOOD[1:]]),
        "input 'a': unknown datatype 'FLOAT'",
    ),
    (
        "shape does not match the data",
        _body([_col("a", [1.0, 2.0], shape=[3]), *GOOD[1:]]),
        "input 'a': shape [3] does not match its 2 values",
    ),
    (
        "columns of different lengths",
        _body([_col("a", [1.0]), *GOOD[1:]]),
        "input 'b': has 2 rows, other inputs have 1",
    ),
    (
        "a 3-D column",
        _body([_col("a", [1.0, 2.0], shape=[1, 2, 1]), *GOOD[1:]]),
        "input 'a': shape [1, 2, 1] must be [rows] or [rows, 1]",
    ),
    (
        "NaN where the model had none",
        b'{"inputs": [{"name": "a", "datatype": "FP64", "shape": [2], "data": [1, NaN]},'
        + json.dumps(GOOD[1:])[1:-1].encode()
        + b"]}",
        "input 'a': missing value (null or NaN) at index 1; the model was trained without "
        "missing values in 'a'",
    ),
    (
        "null in a categorical column",
        _body([*GOOD[:2], _col("colour", ["red", None], "BYTES")]),
        "input 'colour': missing value (null or NaN) at index 1; the model was trained without "
        "missing values in 'colour'",
    ),
    (
        "infinity",
        b'{"inputs": [{"name": "a", "datatype": "FP64", "shape": [2], "data": [1, Infinity]},'
        + json.dumps(GOOD[1:])[1:-1].encode()
        + b"]}",
        "input 'a': value inf at index 1 is not finite",
    ),
    (
        "empty batch",
        _body([_col("a", []), _col("b", []), _col("colour", [], "BYTES")]),
        "empty batch: the request has no rows",
    ),
    (
        "batch over the limit",
        _body([_col("a", [1.0] * 11), _col("b", [1.0] * 11), _col("colour", ["r"] * 11, "BYTES")]),
        "batch of 11 rows is over the limit of 10",
    ),
    (
        "2-D input of the wrong width",
        _body([{"name": "x", "datatype": "FP64", "shape": [1, 2], "data": [1, 2]}]),
        "input 'x': shape [1, 2] must be [rows, 3] for one 2-D input (columns a, b, colour), "
        "or give one input per feature",
    ),
    (
        "tensor without data",
        _body([{"name": "a", "datatype": "FP64", "shape": [1]}]),
        "input 'a': 'data' is missing",
    ),
    (
        "unknown output",
        _body(GOOD, outputs=[{"name": "explain"}]),
        "unknown output 'explain' (outputs: predict, predict_proba)",
    ),
]


@pytest.mark.parametrize(("case", "body", "message"), BAD, ids=[c[0] for c in BAD])
def test_bad_requests_name_the_input(case: str, body: bytes, message: str) -> None:
    with pytest.raises(InputError) as info:
        parse_request(body, FEATURES, max_batch=10, classifier=True)
    assert str(info.value) == message


def test_predict_proba_only_for_classifiers() -> None:
    with pytest.raises(InputError, match="only for classifiers"):
        parse_request(
            _body(GOOD, outputs=[{"name": "predict_proba"}]),
            FEATURES,
            max_batch=10,
            classifier=False,
        )
