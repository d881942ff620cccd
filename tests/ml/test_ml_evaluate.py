"""The evaluate step: metrics per task, plot data for DVC, errors."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from runner.config.step_options import (
    CLASSIFICATION_METRICS,
    REGRESSION_METRICS,
    EvaluateOptions,
    TrainOptions,
)
from runner.ml import StepError, run_step

from .pipeline import Run


def evaluate(model: Path, test: Path, out: Path, metrics: list[str] | None = None) -> None:
    run_step(
        "evaluate",
        EvaluateOptions(metrics=metrics),
        {"model": model, "test": test},
        {"metrics": out / "metrics.json", "plots": out / "plots"},
    )


def read_json(path: Path) -> Any:
    text = path.read_text()
    assert text.endswith("\n")
    return json.loads(text)


def test_classification_metrics(iris: Run) -> None:
    metrics = read_json(iris.metrics)
    assert list(metrics) == sorted(CLASSIFICATION_METRICS)
    assert all(isinstance(v, float) and round(v, 6) == v for v in metrics.values())
    assert metrics["accuracy"] > 0.85
    assert 0.9 < metrics["roc_auc"] <= 1.0
    assert iris.metrics.read_text() == json.dumps(metrics, sort_keys=True, indent=2) + "\n"


def test_multiclass_plots(iris: Run) -> None:
    assert sorted(p.name for p in iris.plots.iterdir()) == [
        "confusion.json",
        "precision_recall.json",
        "roc.json",
    ]
    test = pd.read_parquet(iris.test)
    confusion = read_json(iris.plots / "confusion.json")
    assert [row["actual"] for row in confusion] == test["species"].tolist()
    assert set(confusion[0]) == {"actual", "predicted"}
    roc = read_json(iris.plots / "roc.json")["roc"]
    assert {row["class"] for row in roc} == {"setosa", "versicolor", "virginica"}
    assert set(roc[0]) == {"class", "fpr", "tpr", "threshold"}
    pr = read_json(iris.plots / "precision_recall.json")["precision_recall"]
    assert set(pr[0]) == {"class", "precision", "recall", "threshold"}


def test_binary_plots_have_one_curve(csv_run: Run) -> None:
    metrics = read_json(csv_run.metrics)
    assert list(metrics) == sorted(CLASSIFICATION_METRICS)
    roc = read_json(csv_run.plots / "roc.json")["roc"]
    assert set(roc[0]) == {"fpr", "tpr", "threshold"}
    assert (roc[0]["fpr"], roc[0]["tpr"]) == (0.0, 0.0)
    assert (roc[-1]["fpr"], roc[-1]["tpr"]) == (1.0, 1.0)


def test_regression(diabetes: Run) -> None:
    metrics = read_json(diabetes.metrics)
    assert list(metrics) == sorted(REGRESSION_METRICS)
    assert 0.2 < metrics["r2"] < 1.0
    assert metrics["mae"] < metrics["rmse"]
    assert [p.name for p in diabetes.plots.iterdir()] == ["residuals.json"]
    rows = read_json(diabetes.plots / "residuals.json")
    assert len(rows) == len(pd.read_parquet(diabetes.test))
    row = rows[0]
    assert row["residual"] == pytest.approx(row["actual"] - row["predicted"], abs=1e-5)


def test_requested_metrics_only_and_deterministic(tmp_path: Path, iris: Run) -> None:
    evaluate(iris.model, iris.test, tmp_path / "a", ["f1_macro", "accuracy"])
    evaluate(iris.model, iris.test, tmp_path / "b", ["f1_macro", "accuracy"])
    assert list(read_json(tmp_path / "a" / "metrics.json")) == ["accuracy", "f1_macro"]
    for name in ("metrics.json", "plots/confusion.json", "plots/roc.json"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()


@pytest.fixture(scope="module")
def svc_model(tmp_path_factory: pytest.TempPathFactory, iris: Run) -> Path:
    """An iris model without predict_proba."""
    model = tmp_path_factory.mktemp("svc") / "model"
    run_step(
        "train",
        TrainOptions(estimator="sklearn.svm.SVC"),
        {"train": iris.train},
        {"model": model},
    )
    return model


def test_no_predict_proba_skips_with_warning(
    tmp_path: Path, iris: Run, svc_model: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    evaluate(svc_model, iris.test, tmp_path)
    metrics = read_json(tmp_path / "metrics.json")
    assert "roc_auc" not in metrics and "log_loss" not in metrics
    assert "accuracy" in metrics
    err = capsys.readouterr().err
    assert "evaluate: warning: skipping roc_auc: the estimator has no predict_proba\n" in err
    assert [p.name for p in (tmp_path / "plots").iterdir()] == ["confusion.json"]


def test_progress_goes_to_stderr_only(
    tmp_path: Path, iris: Run, capsys: pytest.CaptureFixture[str]
) -> None:
    evaluate(iris.model, iris.test, tmp_path, ["accuracy"])
    out, err = capsys.readouterr()
    assert out == ""
    assert err.startswith("evaluate: scoring sklearn.ensemble.RandomForestClassifier on 38 rows\n")


@pytest.mark.parametrize(
    ("run", "metrics", "message", "hint"),
    [
        (
            "iris",
            ["accuracy", "rmse"],
            "metric 'rmse' is for regression models, but "
            "sklearn.ensemble.RandomForestClassifier is a classifier",
            "use one of: "
            + ", ".join(CLASSIFICATION_METRICS)
            + " (or omit metrics to compute all)",
        ),
        (
            "diabetes",
            ["accuracy"],
            "metric 'accuracy' is for classification models, but sklearn.linear_model.Ridge "
            "is a regressor",
            "use one of: rmse, mae, r2 (or omit metrics to compute all)",
        ),
        (
            "svc",
            ["roc_auc"],
            "metric 'roc_auc' is unavailable: the estimator has no predict_proba",
            "use an estimator with predict_proba (e.g. SVC with probability: true), a test set "
            "with every class, or remove 'roc_auc' from evaluate.with.metrics",
        ),
    ],
)
def test_metric_errors(
    request: pytest.FixtureRequest,
    tmp_path: Path,
    iris: Run,
    run: str,
    metrics: list[str],
    message: str,
    hint: str,
) -> None:
    if run == "svc":
        model, test = request.getfixturevalue("svc_model"), iris.test
    else:
        chosen: Run = request.getfixturevalue(run)
        model, test = chosen.model, chosen.test
    with pytest.raises(StepError) as caught:
        evaluate(model, test, tmp_path, metrics)
    assert caught.value.message == message
    assert caught.value.hint == hint
    assert list(tmp_path.iterdir()) == []


def test_one_class_test_set(tmp_path: Path, iris: Run) -> None:
    test = pd.read_parquet(iris.test)
    only = tmp_path / "setosa.parquet"
    test[test["species"] == "setosa"].to_parquet(only)
    with pytest.raises(StepError) as caught:
        evaluate(iris.model, only, tmp_path / "out", ["roc_auc"])
    assert caught.value.message.startswith("metric 'roc_auc' is unavailable: ")
    evaluate(iris.model, only, tmp_path / "out")
    assert "roc_auc" not in read_json(tmp_path / "out" / "metrics.json")


@pytest.mark.parametrize(
    ("drop", "message", "hint"),
    [
        (
            "species",
            "target column 'species' not found in {test}",
            "columns are: sepal_length_cm, sepal_width_cm, petal_length_cm, petal_width_cm",
        ),
        (
            "petal_width_cm",
            "missing feature column(s): petal_width_cm",
            "the data must have every column the model was trained on",
        ),
    ],
)
def test_test_set_errors(tmp_path: Path, iris: Run, drop: str, message: str, hint: str) -> None:
    test = tmp_path / "test.parquet"
    pd.read_parquet(iris.test).drop(columns=drop).to_parquet(test)
    with pytest.raises(StepError) as caught:
        evaluate(iris.model, test, tmp_path / "out")
    assert caught.value.message == message.format(test=test)
    assert caught.value.hint == hint


def test_broken_meta(tmp_path: Path, iris: Run) -> None:
    model = Path(shutil.copytree(iris.model, tmp_path / "model"))
    (model / "meta.json").write_text("{}\n")
    with pytest.raises(StepError) as caught:
        evaluate(model, iris.test, tmp_path / "out")
    assert caught.value.message == f"{model / 'meta.json'} lacks estimator, features, target, task"
    assert caught.value.hint == "re-run the train stage (dvc repro)"


def test_dvc_renders_the_plots(tmp_path: Path, iris: Run, diabetes: Run) -> None:
    """The real `dvc plots show` accepts every plot file with a stock template."""
    repo = tmp_path / "repo"
    shutil.copytree(iris.plots, repo / "iris")
    shutil.copytree(diabetes.plots, repo / "diabetes")
    dvc = str(Path(sys.executable).with_name("dvc"))
    env = {**os.environ, "HOME": str(tmp_path), "DVC_NO_ANALYTICS": "1"}
    subprocess.run([dvc, "init", "--no-scm", "-q"], cwd=repo, env=env, check=True)
    cases = [
        ("iris/confusion.json", "confusion", "actual", "predicted", 38),
        ("iris/roc.json", "simple", "fpr", "tpr", None),
        ("iris/precision_recall.json", "simple", "recall", "precision", None),
        ("diabetes/residuals.json", "scatter", "actual", "residual", 111),
    ]
    for path, template, x, y, rows in cases:
        result = subprocess.run(
            [dvc, "plots", "show", path, "--template", template, "-x", x, "-y", y, "--json"],
            cwd=repo,
            env=env,
            capture_output=True,
            text=True,
            check=True,
        )
        (plot,) = json.loads(result.stdout)["data"][path]
        values = plot["content"]["data"]["values"]
        assert values and all(x in v and y in v for v in values), path
        if rows is not None:
            assert len(values) == rows


@pytest.mark.parametrize(
    "final",
    [
        "sklearn.ensemble.RandomForestClassifier",
        "sklearn.ensemble.ExtraTreesClassifier",
        "sklearn.linear_model.LogisticRegression",
        "sklearn.svm.LinearSVC",
    ],
)
def test_predictions_match_predict_and_predict_proba(final: str) -> None:
    """One transform and, for forests, one predict_proba: the same labels and
    probabilities as the model's own predict and predict_proba."""
    import numpy as np
    from sklearn.datasets import load_wine
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler

    from runner.ml.estimator import import_estimator
    from runner.ml.evaluate import predictions

    x, y = load_wine(return_X_y=True, as_frame=True)
    labels = np.array(["a", "b", "c"], dtype=object)[y]
    params = {"n_estimators": 7, "random_state": 0} if "Trees" in final or "Forest" in final else {}
    model = Pipeline(
        [("scale", StandardScaler()), ("estimator", import_estimator(final)(**params))]
    )
    model.fit(x, labels)
    predicted, proba = predictions(model, x, classifier=True)
    assert predicted.tolist() == model.predict(x).tolist()
    if hasattr(model, "predict_proba"):
        assert proba is not None and np.array_equal(proba, model.predict_proba(x))
    else:
        assert proba is None
