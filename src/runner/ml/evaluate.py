"""The `evaluate` step: metrics JSON and plot data for a trained model on the test split."""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

from runner.config.step_options import EvaluateOptions
from runner.ml.errors import StepError, column_hint
from runner.ml.estimator import predict_in_halves
from runner.ml.features import Feature, prepare_features
from runner.ml.files import dumps_json, read_parquet, replace_dir, write_bytes, write_json
from runner.ml.metrics import (
    DECIMALS,
    PROBABILITY_METRICS,
    MetricUnavailable,
    check_names,
    classification_metric,
    default_names,
    regression_metric,
)
from runner.ml.model_io import load_model, read_meta
from runner.ml.plots import confusion_rows, precision_recall_curves, residual_rows, roc_curves
from runner.ml.progress import progress, warn


def run(options: EvaluateOptions, inputs: dict[str, Path], outputs: dict[str, Path]) -> None:
    """Score `inputs["model"]` on `inputs["test"]`; write `outputs["metrics"]` and `["plots"]`."""
    from sklearn.base import is_classifier

    model = load_model(inputs["model"])
    meta = read_meta(inputs["model"])
    task = "classification" if is_classifier(model) else "regression"
    estimator = str(meta.get("estimator", type(model).__name__))
    requested = list(options.metrics) if options.metrics is not None else None
    names = requested if requested is not None else list(default_names(task))
    check_names(names, task, estimator)

    frame, _ = read_parquet(inputs["test"], "test")
    target = str(meta["target"])
    columns = [str(c) for c in frame.columns]
    if target not in columns:
        raise StepError(
            f"target column '{target}' not found in {inputs['test']}",
            hint=column_hint(target, columns),
        )
    features = [Feature.from_json(f) for f in meta["features"]]
    x = prepare_features(frame, features)
    y_true = frame[target].reset_index(drop=True)
    if y_true.isna().any():
        raise StepError(
            f"target column '{target}' has missing values in {inputs['test']}",
            hint="drop or fill those rows in the source data before the split",
        )
    progress("evaluate", f"scoring {estimator} on {len(x)} rows")
    y_pred, proba = predictions(model, x, classifier=task == "classification")

    scores: dict[str, float] = {}
    plots: dict[str, Any]
    if task == "classification":
        truth = y_true.astype(object).tolist()
        classes = list(model.classes_)
        for name in names:
            _score(
                scores,
                name,
                lambda n: classification_metric(n, truth, y_pred, proba, classes),
                required=requested is not None,
            )
        plots = {"confusion.json": confusion_rows(truth, y_pred)}
        if proba is not None:
            plots["roc.json"] = {"roc": roc_curves(truth, proba, classes)}
            plots["precision_recall.json"] = {
                "precision_recall": precision_recall_curves(truth, proba, classes)
            }
    else:
        truth = y_true.astype("float64").tolist()
        for name in names:
            _score(
                scores,
                name,
                lambda n: regression_metric(n, truth, y_pred),
                required=requested is not None,
            )
        plots = {"residuals.json": residual_rows(truth, y_pred)}

    rounded = {name: round(value, DECIMALS) for name, value in sorted(scores.items())}
    progress("evaluate", ", ".join(f"{k}={v}" for k, v in rounded.items()) or "no metrics")
    write_json(outputs["metrics"], rounded)
    with replace_dir(outputs["plots"]) as tmp:
        for filename, value in sorted(plots.items()):
            write_bytes(tmp / filename, dumps_json(value).encode("utf-8"))


def predictions(model: Any, x: Any, *, classifier: bool) -> tuple[Any, Any | None]:
    """The predicted labels and, for a classifier that has them, the class probabilities.

    The preprocessing runs once. For the forests, whose `predict` is the class of
    the highest probability, the probabilities are computed once and the labels
    taken from them exactly as their `predict` does; other estimators predict twice.
    A tree ensemble predicts its rows in two halves on two threads
    (`predict_in_halves`).
    """
    from sklearn.pipeline import Pipeline

    final, rows = model, x
    if isinstance(model, Pipeline) and len(model.steps) > 1:
        final, rows = model.steps[-1][1], model[:-1].transform(x)
    if not classifier or not hasattr(final, "predict_proba"):
        return predict_in_halves(final.predict, final, rows), None
    proba = predict_in_halves(final.predict_proba, final, rows)
    if _predicts_by_argmax(final, proba):
        import numpy as np

        return final.classes_.take(np.argmax(proba, axis=1), axis=0), proba
    return final.predict(rows), proba


def _predicts_by_argmax(estimator: Any, proba: Any) -> bool:
    """True for single-output forests, whose `predict` is literally the argmax of
    `predict_proba` (sklearn.ensemble._forest.ForestClassifier.predict). Found in the
    class's bases, so that evaluating any other model never imports the ensembles."""
    forest = any(
        cls.__module__ == "sklearn.ensemble._forest" and cls.__name__ == "ForestClassifier"
        for cls in type(estimator).__mro__
    )
    single = getattr(proba, "ndim", 0) == 2 and getattr(estimator, "n_outputs_", 1) == 1
    return forest and single


def _score(
    scores: dict[str, float],
    name: str,
    compute: Callable[[str], float],
    *,
    required: bool,
) -> None:
    """Add one metric to `scores`; an unavailable one fails only if it was asked for."""
    try:
        value = compute(name)
        if not math.isfinite(value):
            raise MetricUnavailable("it is undefined on this test set")
    except MetricUnavailable as exc:
        if required:
            raise StepError(
                f"metric '{name}' is unavailable: {exc}",
                hint=_unavailable_hint(name),
            ) from exc
        warn("evaluate", f"skipping {name}: {exc}")
        return
    scores[name] = value


def _unavailable_hint(name: str) -> str:
    if name in PROBABILITY_METRICS:
        return (
            f"use an estimator with predict_proba (e.g. SVC with probability: true), "
            f"a test set with every class, or remove '{name}' from evaluate.with.metrics"
        )
    return f"remove '{name}' from evaluate.with.metrics"
