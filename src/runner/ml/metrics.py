"""Scores of a fitted model on held-out data."""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any

from runner.config.step_options import CLASSIFICATION_METRICS, REGRESSION_METRICS
from runner.ml.errors import StepError, first_line

DECIMALS = 6
PROBABILITY_METRICS = ("roc_auc", "log_loss")


class MetricUnavailable(Exception):
    """A metric that cannot be computed for this model or this test set."""


def check_names(names: Sequence[str], task: str, estimator: str) -> None:
    """Refuse metrics that belong to the other task."""
    own, kind = (
        (CLASSIFICATION_METRICS, "classifier")
        if task == "classification"
        else (REGRESSION_METRICS, "regressor")
    )
    for name in names:
        if name not in own:
            wrong = "regression" if task == "classification" else "classification"
            raise StepError(
                f"metric '{name}' is for {wrong} models, but {estimator} is a {kind}",
                hint="use one of: " + ", ".join(own) + " (or omit metrics to compute all)",
            )


def default_names(task: str) -> tuple[str, ...]:
    """Every metric of the task."""
    return CLASSIFICATION_METRICS if task == "classification" else REGRESSION_METRICS


def classification_metric(
    name: str, y_true: Any, y_pred: Any, proba: Any | None, classes: list[Any]
) -> float:
    """One classification metric; raises MetricUnavailable when it cannot be computed."""
    from sklearn import metrics
    from sklearn.exceptions import UndefinedMetricWarning

    if name == "accuracy":
        return float(metrics.accuracy_score(y_true, y_pred))
    for prefix, scorer in (
        ("precision_", metrics.precision_score),
        ("recall_", metrics.recall_score),
        ("f1_", metrics.f1_score),
    ):
        if name.startswith(prefix):
            average = name[len(prefix) :]
            return float(scorer(y_true, y_pred, average=average, labels=classes, zero_division=0))
    if proba is None:
        raise MetricUnavailable("the estimator has no predict_proba")
    with warnings.catch_warnings():
        # sklearn warns and returns NaN for an undefined score; make it an error
        # so that its explanation reaches the user once, as the reason.
        warnings.simplefilter("error", UndefinedMetricWarning)
        try:
            return _probability_metric(name, y_true, proba, classes)
        except (ValueError, UndefinedMetricWarning) as exc:
            raise MetricUnavailable(first_line(exc)) from exc


def _probability_metric(name: str, y_true: Any, proba: Any, classes: list[Any]) -> float:
    from sklearn import metrics

    if name == "log_loss":
        return float(metrics.log_loss(y_true, proba, labels=classes))
    if name == "roc_auc":
        if len(classes) == 2:
            positive = [label == classes[1] for label in y_true]
            return float(metrics.roc_auc_score(positive, proba[:, 1]))
        return float(
            metrics.roc_auc_score(y_true, proba, multi_class="ovr", average="macro", labels=classes)
        )
    raise ValueError(f"unknown classification metric {name!r}")


def regression_metric(name: str, y_true: Any, y_pred: Any) -> float:
    """One regression metric."""
    import math

    from sklearn import metrics

    if name == "rmse":
        return math.sqrt(float(metrics.mean_squared_error(y_true, y_pred)))
    if name == "mae":
        return float(metrics.mean_absolute_error(y_true, y_pred))
    if name == "r2":
        return float(metrics.r2_score(y_true, y_pred))
    raise ValueError(f"unknown regression metric {name!r}")
