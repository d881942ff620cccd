"""Checking inputs against what the model takes: V2 request bodies and tables.

Every refusal is an `InputError` whose message names the input or column at fault;
the HTTP app answers it with 400 and `{"error": message}`, `mlops predict` with exit 1.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from runner.serve.loader import ModelInput

NUMERIC_TYPES = frozenset(
    {"BOOL", "UINT8", "UINT16", "UINT32", "UINT64", "INT8", "INT16", "INT32", "INT64"}
    | {"FP16", "FP32", "FP64"}
)
DATATYPES = NUMERIC_TYPES | {"BYTES"}
OUTPUTS = ("predict", "predict_proba")


class InputError(ValueError):
    """A request or table the model cannot take; the message names the column."""


@dataclass(frozen=True)
class InferRequest:
    """A checked inference request: its id, the feature columns and the outputs asked for."""

    id: str | None
    columns: dict[str, list[Any]]
    rows: int
    outputs: tuple[str, ...]


def _shape(value: Any, where: str) -> list[int]:
    if not isinstance(value, list) or not all(
        isinstance(d, int) and not isinstance(d, bool) and d >= 0 for d in value
    ):
        raise InputError(f"{where}: 'shape' must be a list of non-negative integers")
    return value


def _flat(data: Any, where: str) -> list[Any]:
    """The tensor's data, row-major; nested lists are flattened."""
    if not isinstance(data, list):
        raise InputError(f"{where}: 'data' must be a list")
    out: list[Any] = []
    stack = [iter(data)]
    while stack:
        for item in stack[-1]:
            if isinstance(item, list):
                stack.append(iter(item))
                break
            out.append(item)
        else:
            stack.pop()
    return out


def parse_request(
    body: bytes, features: Sequence[ModelInput], *, max_batch: int, classifier: bool
) -> InferRequest:
    """Check a V2 inference request body; one input per feature, or one 2-D input."""
    try:
        doc = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise InputError(f"malformed JSON: {exc}") from None
    if not isinstance(doc, dict):
        raise InputError("the request must be a JSON object with 'inputs'")
    unknown_keys = sorted(set(doc) - {"id", "inputs", "outputs", "parameters"})
    if unknown_keys:
        raise InputError(f"unknown request key(s): {', '.join(unknown_keys)}")
    request_id = doc.get("id")
    if request_id is not None and not isinstance(request_id, str):
        raise InputError("'id' must be a string")
    inputs = doc.get("inputs")
    if not isinstance(inputs, list) or not inputs:
        raise InputError("'inputs' must be a non-empty list of tensors")
    names = [f.name for f in features]
    tensors: dict[str, tuple[list[int], str, list[Any]]] = {}
    for i, tensor in enumerate(inputs):
        if not isinstance(tensor, dict):
            raise InputError(f"inputs[{i}] must be an object with name, shape, datatype, data")
        name = tensor.get("name")
        if not isinstance(name, str):
            raise InputError(f"inputs[{i}]: 'name' must be a string")
        where = f"input '{name}'"
        extra = sorted(set(tensor) - {"name", "shape", "datatype", "data", "parameters"})
        if extra:
            raise InputError(f"{where}: unknown key(s) {', '.join(extra)}")
        for key in ("shape", "datatype", "data"):
            if key not in tensor:
                raise InputError(f"{where}: '{key}' is missing")
        datatype = tensor["datatype"]
        if datatype not in DATATYPES:
            raise InputError(f"{where}: unknown datatype {datatype!r}")
        if name in tensors:
            raise InputError(f"{where} is given twice")
        tensors[name] = (_shape(tensor["shape"], where), datatype, _flat(tensor["data"], where))
    if len(tensors) == 1 and next(iter(tensors)) not in names:
        columns, rows = _from_matrix(next(iter(tensors.items())), features)
    else:
        columns, rows = _from_columns(tensors, features)
    if rows == 0:
        raise InputError("empty batch: the request has no rows")
    if rows > max_batch:
        raise InputError(f"batch of {rows} rows is over the limit of {max_batch}")
    return InferRequest(request_id, columns, rows, _outputs(doc.get("outputs"), classifier))


def _outputs(value: Any, classifier: bool) -> tuple[str, ...]:
    if value is None:
        return ("predict",)
    if not isinstance(value, list) or not all(
        isinstance(o, dict) and isinstance(o.get("name"), str) for o in value
    ):
        raise InputError("'outputs' must be a list of objects with a 'name'")
    wanted = tuple(o["name"] for o in value)
    for name in wanted:
        if name not in OUTPUTS:
            raise InputError(f"unknown output '{name}' (outputs: {', '.join(OUTPUTS)})")
        if name == "predict_proba" and not classifier:
            raise InputError("output 'predict_proba' is only for classifiers")
    return wanted or ("predict",)


def _from_columns(
    tensors: dict[str, tuple[list[int], str, list[Any]]], features: Sequence[ModelInput]
) -> tuple[dict[str, list[Any]], int]:
    names = [f.name for f in features]
    for name in tensors:
        if name not in names:
            raise InputError(
                f"unknown input '{name}': the model takes {', '.join(names)} "
                f"(or one 2-D input of {len(names)} columns in that order)"
            )
    missing = [n for n in names if n not in tensors]
    if missing:
        raise InputError(f"missing input '{missing[0]}' (the model needs {', '.join(names)})")
    columns: dict[str, list[Any]] = {}
    rows: int | None = None
    for feature in features:
        shape, datatype, data = tensors[feature.name]
        where = f"input '{feature.name}'"
        if len(shape) not in (1, 2) or (len(shape) == 2 and shape[1] != 1):
            raise InputError(f"{where}: shape {shape} must be [rows] or [rows, 1]")
        if shape[0] != len(data):
            raise InputError(f"{where}: shape {shape} does not match its {len(data)} values")
        if rows is not None and shape[0] != rows:
            raise InputError(f"{where}: has {shape[0]} rows, other inputs have {rows}")
        rows = shape[0]
        columns[feature.name] = _column(feature, datatype, data, where)
    return columns, rows or 0


def _from_matrix(
    item: tuple[str, tuple[list[int], str, list[Any]]], features: Sequence[ModelInput]
) -> tuple[dict[str, list[Any]], int]:
    name, (shape, datatype, data) = item
    where = f"input '{name}'"
    width = len(features)
    if len(shape) != 2 or shape[1] != width:
        raise InputError(
            f"{where}: shape {shape} must be [rows, {width}] for one 2-D input "
            f"(columns {', '.join(f.name for f in features)}), or give one input per feature"
        )
    if shape[0] * width != len(data):
        raise InputError(f"{where}: shape {shape} does not match its {len(data)} values")
    columns: dict[str, list[Any]] = {}
    for j, feature in enumerate(features):
        column = data[j::width]
        columns[feature.name] = _column(
            feature, datatype, column, f"{where} column {j} ('{feature.name}')"
        )
    return columns, shape[0]


def _column(feature: ModelInput, datatype: str, data: list[Any], where: str) -> list[Any]:
    if feature.kind == "numeric":
        if datatype == "BYTES":
            raise InputError(
                f"{where}: datatype BYTES, but '{feature.name}' is numeric (use FP64 or INT64)"
            )
        return [_number(v, i, feature, where) for i, v in enumerate(data)]
    if datatype != "BYTES":
        raise InputError(
            f"{where}: datatype {datatype}, but '{feature.name}' is categorical (use BYTES)"
        )
    out: list[Any] = []
    for i, value in enumerate(data):
        if value is None:
            if not feature.missing_ok:
                raise InputError(_no_missing(feature, i, where))
            out.append(None)
        elif isinstance(value, str):
            out.append(value)
        else:
            raise InputError(f"{where}: value {value!r} at index {i} is not a string")
    return out


def _number(value: Any, i: int, feature: ModelInput, where: str) -> float:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        if not feature.missing_ok:
            raise InputError(_no_missing(feature, i, where))
        return math.nan
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise InputError(f"{where}: value {value!r} at index {i} is not a number")
    if isinstance(value, float) and math.isinf(value):
        raise InputError(f"{where}: value {value!r} at index {i} is not finite")
    return float(value)


def _no_missing(feature: ModelInput, i: int, where: str) -> str:
    return (
        f"{where}: missing value (null or NaN) at index {i}; the model was trained without "
        f"missing values in '{feature.name}'"
    )


def check_frame(frame: Any, features: Sequence[ModelInput], *, max_rows: int | None = None) -> Any:
    """The feature columns of a table (pandas DataFrame), checked like a request's inputs."""
    names = [f.name for f in features]
    missing = [n for n in names if n not in frame.columns]
    if missing:
        raise InputError(f"missing column '{missing[0]}' (the model needs {', '.join(names)})")
    if len(frame) == 0:
        raise InputError("empty batch: the table has no rows")
    if max_rows is not None and len(frame) > max_rows:
        raise InputError(f"batch of {len(frame)} rows is over the limit of {max_rows}")
    columns: dict[str, list[Any]] = {}
    for feature in features:
        values = frame[feature.name].tolist()
        datatype = "FP64" if feature.kind == "numeric" else "BYTES"
        if feature.kind == "numeric":
            values = [None if _is_missing(v) else v for v in values]
        else:
            values = [None if _is_missing(v) else str(v) for v in values]
        columns[feature.name] = _column(feature, datatype, values, f"column '{feature.name}'")
    return to_frame(columns, features)


def _is_missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def to_frame(columns: dict[str, list[Any]], features: Sequence[ModelInput]) -> Any:
    """The checked columns as the DataFrame the model was trained on."""
    import numpy as np
    import pandas as pd

    data: dict[str, Any] = {}
    for feature in features:
        values = columns[feature.name]
        if feature.kind == "numeric":
            data[feature.name] = np.asarray(values, dtype="float64")
        else:
            data[feature.name] = np.array(
                [np.nan if v is None else v for v in values], dtype=object
            )
    return pd.DataFrame(data, columns=[f.name for f in features])
