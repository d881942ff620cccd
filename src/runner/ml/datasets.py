"""The scikit-learn toy datasets that `ingest` can load offline."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from runner.config.step_options import SKLEARN_DATASETS
from runner.ml.errors import StepError

if TYPE_CHECKING:
    import pandas as pd

SOURCE_PREFIX = "sklearn:"

# Name of the target column and whether its integer codes stand for class names.
_TARGETS: dict[str, tuple[str, bool]] = {
    "iris": ("species", True),
    "wine": ("cultivar", True),
    "breast_cancer": ("diagnosis", True),
    "diabetes": ("progression", False),
}


def snake_case(name: str) -> str:
    """Turn a column label into an identifier: "sepal length (cm)" -> "sepal_length_cm"."""
    text = re.sub(r"[^0-9a-zA-Z]+", "_", name).strip("_").lower()
    if not text:
        return "column"
    # An identifier cannot start with a digit.
    return f"c_{text}" if text[0].isdigit() else text


def load_dataset(name: str) -> pd.DataFrame:
    """Load a bundled scikit-learn dataset as features plus one named target column."""
    import pandas as pd
    from sklearn import datasets

    if name not in _TARGETS:
        choices = ", ".join(f"{SOURCE_PREFIX}{n}" for n in SKLEARN_DATASETS)
        raise StepError(
            f"unknown dataset '{SOURCE_PREFIX}{name}'",
            hint=f"use one of: {choices}",
        )
    loader = getattr(datasets, f"load_{name}")
    bunch = loader(as_frame=True)
    features = bunch.data.rename(columns=lambda c: snake_case(str(c)))
    target_name, named_classes = _TARGETS[name]
    if named_classes:
        names = [str(n) for n in bunch.target_names]
        target = pd.Series([names[int(code)] for code in bunch.target], name=target_name)
    else:
        target = bunch.target.astype("float64").rename(target_name)
    frame = pd.concat([features.reset_index(drop=True), target.reset_index(drop=True)], axis=1)
    return frame
