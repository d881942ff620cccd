"""Plot data that `dvc plots show` renders with its stock templates."""

from __future__ import annotations

import math
from typing import Any

DECIMALS = 6


def _number(value: Any) -> float | None:
    # sklearn puts +inf at the start of ROC thresholds; JSON has no infinity.
    number = float(value)
    return round(number, DECIMALS) if math.isfinite(number) else None


def _label(value: Any) -> Any:
    return value.item() if hasattr(value, "item") else value


def confusion_rows(y_true: Any, y_pred: Any) -> list[dict[str, Any]]:
    """One {"actual", "predicted"} row per test row, for the `confusion` template."""
    return [
        {"actual": _label(a), "predicted": _label(p)} for a, p in zip(y_true, y_pred, strict=True)
    ]


def roc_curves(y_true: Any, proba: Any, classes: list[Any]) -> list[dict[str, Any]]:
    """ROC points: the positive class for binary, one-vs-rest per class otherwise."""
    from sklearn.metrics import roc_curve

    rows: list[dict[str, Any]] = []
    for index, label, positive in _curves(y_true, classes):
        fpr, tpr, thresholds = roc_curve(positive, proba[:, index])
        for f, t, th in zip(fpr, tpr, thresholds, strict=True):
            row = {"fpr": _number(f), "tpr": _number(t), "threshold": _number(th)}
            rows.append(row if len(classes) == 2 else {"class": _label(label), **row})
    return rows


def precision_recall_curves(y_true: Any, proba: Any, classes: list[Any]) -> list[dict[str, Any]]:
    """Precision-recall points, shaped like `roc_curves`."""
    from sklearn.metrics import precision_recall_curve

    rows: list[dict[str, Any]] = []
    for index, label, positive in _curves(y_true, classes):
        precision, recall, thresholds = precision_recall_curve(positive, proba[:, index])
        # The last point (recall 0, precision 1) has no threshold.
        padded = [*thresholds, math.inf]
        for p, r, th in zip(precision, recall, padded, strict=True):
            row = {"precision": _number(p), "recall": _number(r), "threshold": _number(th)}
            rows.append(row if len(classes) == 2 else {"class": _label(label), **row})
    return rows


def _curves(y_true: Any, classes: list[Any]) -> list[tuple[int, Any, list[bool]]]:
    """(probability column, class, is-positive per row) for each curve worth drawing."""
    indices = [1] if len(classes) == 2 else list(range(len(classes)))
    curves = []
    for index in indices:
        positive = [label == classes[index] for label in y_true]
        # A curve needs both positives and negatives in the test set.
        if any(positive) and not all(positive):
            curves.append((index, classes[index], positive))
    return curves


def residual_rows(y_true: Any, y_pred: Any) -> list[dict[str, Any]]:
    """One {"actual", "predicted", "residual"} row per test row."""
    return [
        {"actual": _number(a), "predicted": _number(p), "residual": _number(float(a) - float(p))}
        for a, p in zip(y_true, y_pred, strict=True)
    ]
