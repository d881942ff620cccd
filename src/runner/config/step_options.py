"""Typed options (`with:`) of each built-in step.

These models are light (pydantic only) so that `mlops validate` can check a
stage's options without importing pandas or scikit-learn. The code that runs
a step lives in `runner.ml` and receives these frozen objects.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

CLASSIFICATION_METRICS = (
    "accuracy",
    "precision_macro",
    "recall_macro",
    "f1_macro",
    "precision_weighted",
    "recall_weighted",
    "f1_weighted",
    "roc_auc",
    "log_loss",
)
REGRESSION_METRICS = ("rmse", "mae", "r2")
KNOWN_METRICS = CLASSIFICATION_METRICS + REGRESSION_METRICS
SKLEARN_DATASETS = ("iris", "wine", "breast_cancer", "diabetes")
# Losses and errors fall as models improve; every other built-in metric rises.
LOWER_IS_BETTER = frozenset({"log_loss", "rmse", "mae"})
HIGHER_IS_BETTER = frozenset(KNOWN_METRICS) - LOWER_IS_BETTER
Direction = Literal["higher", "lower"]


def direction(metric: str, declared: Direction | None = None) -> Direction | None:
    """`higher` or `lower` is better: as declared, else the default for a known metric."""
    if declared:
        return declared
    if metric in HIGHER_IS_BETTER:
        return "higher"
    if metric in LOWER_IS_BETTER:
        return "lower"
    return None


class _Options(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True, defer_build=True)


class IngestOptions(_Options):
    """Read a dataset into a parquet file.

    `source` is `sklearn:<name>` (one of SKLEARN_DATASETS, bundled, offline),
    or a repository-relative path to a `.csv` or `.parquet` file.
    """

    source: str
    # Rename columns on the way in, e.g. {"sepal length (cm)": "sepal_length"}.
    rename: dict[str, str] = Field(default_factory=dict)


class SplitOptions(_Options):
    """Split a table into train and test parts."""

    target: str
    test_size: float = Field(default=0.25, gt=0, lt=1, allow_inf_nan=False)
    seed: int = 0
    stratify: bool = False


class PreprocessOptions(_Options):
    """Column preprocessing; columns not listed are inferred from their dtype."""

    numeric: list[str] | None = None
    categorical: list[str] | None = None
    impute_numeric: Literal["mean", "median", "most_frequent"] = "median"
    impute_categorical: Literal["most_frequent", "constant"] = "most_frequent"
    scale: bool = True
    one_hot: bool = True


class TrainOptions(_Options):
    """Fit any scikit-learn estimator given by dotted path."""

    estimator: str = Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)+$")
    params: dict[str, Any] = Field(default_factory=dict)
    preprocess: PreprocessOptions = Field(default_factory=PreprocessOptions)


class EvaluateOptions(_Options):
    """Score the model on the test split; write metrics JSON and plot data."""

    metrics: list[Literal[KNOWN_METRICS]] | None = None  # type: ignore[valid-type]
