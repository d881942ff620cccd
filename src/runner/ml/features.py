"""Which columns are features, of which kind, and how they are fed to a model.

The same `prepare_features` runs before fit, before evaluation and (later)
before serving, so the pipeline always sees numeric columns as float64 and
categorical columns as strings with NaN for missing values. Without that,
`None` in an object column would slip past SimpleImputer as a category of its
own, and mixed bool/str columns would break OneHotEncoder's sorting.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from runner.config.step_options import PreprocessOptions
from runner.ml.errors import StepError, column_hint

if TYPE_CHECKING:
    import pandas as pd

Kind = Literal["numeric", "categorical"]


@dataclass(frozen=True)
class Feature:
    """One input column of a model: its name, kind and dtype in the training data."""

    name: str
    kind: Kind
    dtype: str

    def to_json(self) -> dict[str, str]:
        """The form stored in meta.json."""
        return {"name": self.name, "kind": self.kind, "dtype": self.dtype}

    @classmethod
    def from_json(cls, value: Mapping[str, Any]) -> Feature:
        """Read back what `to_json` wrote."""
        kind = value["kind"]
        if kind not in ("numeric", "categorical"):
            raise ValueError(f"unknown feature kind {kind!r}")
        return cls(name=str(value["name"]), kind=kind, dtype=str(value["dtype"]))


def infer_kind(series: pd.Series) -> Kind:
    """Numbers are numeric; bool, text, category and anything else is categorical."""
    from pandas.api import types

    if types.is_bool_dtype(series.dtype):
        return "categorical"
    if types.is_numeric_dtype(series.dtype):
        return "numeric"
    return "categorical"


def select_features(
    frame: pd.DataFrame, target: str, preprocess: PreprocessOptions
) -> list[Feature]:
    """Every column but the target, in frame order, with its declared or inferred kind."""
    columns = [str(c) for c in frame.columns]
    declared: dict[str, Kind] = {}
    lists: tuple[tuple[Kind, list[str]], ...] = (
        ("numeric", preprocess.numeric or []),
        ("categorical", preprocess.categorical or []),
    )
    for kind, names in lists:
        for name in names:
            if name == target:
                raise StepError(
                    f"preprocess.{kind} lists the target column '{target}'",
                    hint=f"remove '{target}' from preprocess.{kind}; the target is never a feature",
                )
            if name not in columns:
                raise StepError(
                    f"preprocess.{kind}: unknown column '{name}'",
                    hint=column_hint(name, columns),
                )
            if name in declared and declared[name] != kind:
                raise StepError(
                    f"column '{name}' is listed as both numeric and categorical",
                    hint="keep it in only one of preprocess.numeric and preprocess.categorical",
                )
            declared[name] = kind
    features = [
        Feature(name=c, kind=declared.get(c) or infer_kind(frame[c]), dtype=str(frame[c].dtype))
        for c in columns
        if c != target
    ]
    if not features:
        raise StepError(
            f"no feature columns: the table has only the target column '{target}'",
            hint="ingest a table with at least one column besides the target",
        )
    return features


def prepare_features(frame: pd.DataFrame, features: Sequence[Feature]) -> pd.DataFrame:
    """The feature columns of `frame`, converted the way the model was trained on them."""
    import numpy as np
    import pandas as pd

    columns = [str(c) for c in frame.columns]
    absent = [f.name for f in features if f.name not in columns]
    if absent:
        raise StepError(
            "missing feature column(s): " + ", ".join(absent),
            hint="the data must have every column the model was trained on",
        )
    prepared: dict[str, pd.Series] = {}
    for feature in features:
        series = frame[feature.name].reset_index(drop=True)
        missing = series.isna().to_numpy()
        if feature.kind == "numeric":
            numbers = pd.to_numeric(series, errors="coerce")
            bad = numbers.isna().to_numpy() & ~missing
            if bad.any():
                example = series[bad].iloc[0]
                raise StepError(
                    f"column '{feature.name}' is numeric but has the non-numeric value {example!r}",
                    hint=f"fix the data, or list '{feature.name}' in preprocess.categorical",
                )
            prepared[feature.name] = pd.Series(
                numbers.to_numpy(dtype="float64", na_value=np.nan), name=feature.name
            )
        else:
            values = np.array(
                [
                    np.nan if gone else str(v)
                    for v, gone in zip(series.tolist(), missing, strict=True)
                ],
                dtype=object,
            )
            prepared[feature.name] = pd.Series(values, name=feature.name, dtype=object)
    return pd.DataFrame(prepared)
