"""The train step: pipeline, reproducible model directory, meta and profile, errors."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from runner.config.step_options import PreprocessOptions, TrainOptions
from runner.ml import StepError, load_model, run_step

from .pipeline import Run


def train(train_file: Path, model: Path, estimator: str, **options: Any) -> None:
    run_step(
        "train",
        TrainOptions(estimator=estimator, **options),
        {"train": train_file},
        {"model": model},
    )


def test_model_directory_contents(iris: Run) -> None:
    assert sorted(p.name for p in iris.model.iterdir()) == [
        "meta.json",
        "model.skops",
        "model.skops.sha256",
        "profile.json",
        "reference.json",
    ]
    digest = hashlib.sha256((iris.model / "model.skops").read_bytes()).hexdigest()
    assert (iris.model / "model.skops.sha256").read_text() == f"{digest}  model.skops\n"


def test_meta(iris: Run) -> None:
    import sklearn

    text = (iris.model / "meta.json").read_text()
    meta = json.loads(text)
    assert text == json.dumps(meta, sort_keys=True, indent=2) + "\n"
    assert meta["task"] == "classification"
    assert meta["target"] == "species"
    assert meta["classes"] == ["setosa", "versicolor", "virginica"]
    assert meta["estimator"] == "sklearn.ensemble.RandomForestClassifier"
    # The split's seed reaches the estimator when params do not set one.
    assert meta["params"] == {"n_estimators": 10, "random_state": 7}
    assert meta["sklearn_version"] == sklearn.__version__
    assert meta["features"][0] == {"dtype": "float64", "kind": "numeric", "name": "sepal_length_cm"}
    assert [f["name"] for f in meta["features"]] == [
        "sepal_length_cm",
        "sepal_width_cm",
        "petal_length_cm",
        "petal_width_cm",
    ]


def test_profile(iris: Run) -> None:
    profile = json.loads((iris.model / "profile.json").read_text())
    train = pd.read_parquet(iris.train)
    column = profile["columns"]["petal_length_cm"]
    assert column["count"] == len(train) and column["missing"] == 0
    assert column["min"] == train["petal_length_cm"].min()
    assert column["mean"] == pytest.approx(train["petal_length_cm"].mean())
    assert column["std"] == pytest.approx(train["petal_length_cm"].std())
    assert len(column["histogram"]["edges"]) == 11
    assert sum(column["histogram"]["counts"]) == len(train)
    assert list(column["quantiles"]) == ["0.01", "0.05", "0.25", "0.5", "0.75", "0.95", "0.99"]
    assert profile["columns"]["species"]["values"] == train["species"].value_counts().to_dict()
    assert profile["target"] == "species" and profile["rows"] == len(train)


def test_regression_meta(diabetes: Run) -> None:
    meta = json.loads((diabetes.model / "meta.json").read_text())
    assert meta["task"] == "regression"
    assert "classes" not in meta
    assert meta["params"] == {"random_state": 7}
    profile = json.loads((diabetes.model / "profile.json").read_text())
    assert profile["columns"]["progression"]["kind"] == "numeric"


def test_same_data_and_seed_give_identical_files(tmp_path: Path, iris: Run) -> None:
    train(
        iris.train,
        tmp_path / "model",
        "sklearn.ensemble.RandomForestClassifier",
        params={"n_estimators": 10},
    )
    for name in (
        "model.skops",
        "model.skops.sha256",
        "meta.json",
        "profile.json",
        "reference.json",
    ):
        assert (tmp_path / "model" / name).read_bytes() == (iris.model / name).read_bytes(), name


def test_reference_statistics(iris: Run) -> None:
    from runner.config.reference import NumericStats, parse

    text = (iris.model / "reference.json").read_text()
    ref = parse(text, "reference.json")
    assert text == json.dumps(json.loads(text), indent=2) + "\n"
    assert ref.task == "classification" and ref.target == "species"
    train = pd.read_parquet(iris.train)
    assert ref.rows == len(train) and list(ref.columns) == list(train.columns.drop("species"))
    petal = ref.columns["petal_length_cm"]
    assert isinstance(petal, NumericStats)
    # Fewer rows than the sample size: the sample is every value, sorted.
    assert petal.sample == sorted(train["petal_length_cm"].tolist())
    assert sum(petal.counts) == petal.count == len(train)
    assert len(petal.counts) == len(petal.edges) + 1
    assert ref.target_stats.kind == "categorical"
    assert ref.prediction.kind == "categorical" and ref.prediction.count == len(train)


def test_reference_of_a_regressor_and_a_large_column(tmp_path: Path) -> None:
    from runner.config.reference import SAMPLE_SIZE, NumericStats
    from runner.ml.reference import column_stats

    stats = column_stats(pd.Series(range(20000), dtype="float64"), "numeric", "float64")
    assert isinstance(stats, NumericStats)
    assert len(stats.sample) == SAMPLE_SIZE and stats.sample == sorted(stats.sample)
    assert len(set(stats.sample)) == SAMPLE_SIZE  # drawn without replacement
    assert stats.counts == [1000] * 20  # equal-frequency bins
    again = column_stats(pd.Series(range(20000), dtype="float64"), "numeric", "float64")
    assert again == stats  # a seeded sample: the same data gives the same file


def test_retrain_replaces_directory(tmp_path: Path, iris: Run) -> None:
    model = tmp_path / "model"
    shutil.copytree(iris.model, model)
    (model / "stale.txt").write_text("from an older run")
    train(iris.train, model, "sklearn.tree.DecisionTreeClassifier")
    assert not (model / "stale.txt").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model"]
    assert type(load_model(model)[-1]).__name__ == "DecisionTreeClassifier"


def test_categorical_and_missing_values(csv_run: Run) -> None:
    meta = json.loads((csv_run.model / "meta.json").read_text())
    kinds = {f["name"]: f["kind"] for f in meta["features"]}
    assert kinds == {"color": "categorical", "size": "numeric", "flag": "categorical"}
    assert meta["classes"] == ["no", "yes"]
    profile = json.loads((csv_run.model / "profile.json").read_text())
    color = profile["columns"]["color"]
    assert color["missing"] > 0
    assert set(color["values"]) == {"blue", "green", "red"}
    assert profile["columns"]["flag"]["values"].keys() == {"False", "True"}
    assert profile["columns"]["size"]["missing"] > 0

    model = load_model(csv_run.model)
    unseen = pd.DataFrame({"color": ["purple", None], "size": [None, 3.0], "flag": ["True", None]})
    assert list(model.predict(unseen)) in ([a, b] for a in ("no", "yes") for b in ("no", "yes"))


def test_declared_columns_and_ordinal_encoding(tmp_path: Path, csv_run: Run) -> None:
    train(
        csv_run.train,
        tmp_path / "model",
        "sklearn.ensemble.HistGradientBoostingClassifier",
        preprocess=PreprocessOptions(
            categorical=["size"],
            one_hot=False,
            scale=False,
            impute_categorical="constant",
        ),
    )
    meta = json.loads((tmp_path / "model" / "meta.json").read_text())
    assert {f["name"]: f["kind"] for f in meta["features"]}["size"] == "categorical"
    steps = load_model(tmp_path / "model").named_steps["preprocess"].named_transformers_
    assert type(steps["categorical"][-1]).__name__ == "OrdinalEncoder"
    assert "numeric" not in steps


def test_without_scaling(tmp_path: Path, iris: Run) -> None:
    train(
        iris.train,
        tmp_path / "model",
        "sklearn.neighbors.KNeighborsClassifier",
        preprocess=PreprocessOptions(scale=False, impute_numeric="mean"),
    )
    steps = load_model(tmp_path / "model").named_steps["preprocess"].named_transformers_
    assert list(steps["numeric"].named_steps) == ["impute"]
    # No random_state parameter, so none is added.
    assert json.loads((tmp_path / "model" / "meta.json").read_text())["params"] == {}


def test_untrained_input_without_target(tmp_path: Path, iris: Run) -> None:
    with pytest.raises(StepError) as caught:
        train(iris.data, tmp_path / "model", "sklearn.linear_model.LogisticRegression")
    assert caught.value.message == f"{iris.data} does not record its target column"
    assert caught.value.hint == "produce the training data with the built-in split step"


@pytest.mark.parametrize(
    ("estimator", "options", "message", "hint"),
    [
        (
            "sklearn.ensembl.RandomForestClassifier",
            {},
            "estimator 'sklearn.ensembl.RandomForestClassifier': cannot import module "
            "'sklearn.ensembl' (No module named 'sklearn.ensembl')",
            "check the dotted path (e.g. sklearn.ensemble.RandomForestClassifier) and that its "
            "package is installed",
        ),
        (
            "sklearn.ensemble.RandomForestClassifer",
            {},
            "estimator 'sklearn.ensemble.RandomForestClassifer': module 'sklearn.ensemble' has "
            "no attribute 'RandomForestClassifer'",
            "did you mean 'sklearn.ensemble.RandomForestClassifier'?",
        ),
        (
            "pathlib.Path",
            {},
            "estimator 'pathlib.Path' is not a scikit-learn estimator class",
            "use a class that subclasses sklearn.base.BaseEstimator, e.g. "
            "sklearn.ensemble.RandomForestClassifier",
        ),
        (
            "sklearn.preprocessing.StandardScaler",
            {},
            "estimator 'sklearn.preprocessing.StandardScaler' is neither a classifier nor a "
            "regressor",
            "use a supervised estimator, e.g. sklearn.ensemble.RandomForestClassifier or "
            "sklearn.linear_model.Ridge",
        ),
        (
            "sklearn.linear_model.LogisticRegression",
            {"params": {"max_iters": 10}},
            "estimator 'sklearn.linear_model.LogisticRegression' has no parameter 'max_iters'",
            "did you mean 'max_iter'?",
        ),
        (
            "sklearn.ensemble.RandomForestClassifier",
            {"params": {"n_estimators": -1}},
            "fitting RandomForestClassifier failed: The 'n_estimators' parameter of "
            "RandomForestClassifier must be an int in the range [1, inf). Got -1 instead.",
            "check train.with.params, the estimator's task and the training data",
        ),
        (
            "sklearn.linear_model.Ridge",
            {},
            "target column 'species' is not numeric, but Ridge is a regressor",
            "use a classifier for a categorical target, e.g. "
            "sklearn.ensemble.RandomForestClassifier",
        ),
        (
            "sklearn.linear_model.LogisticRegression",
            {"preprocess": PreprocessOptions(numeric=["sepal"])},
            "preprocess.numeric: unknown column 'sepal'",
            "columns are: sepal_length_cm, sepal_width_cm, petal_length_cm, petal_width_cm, "
            "species",
        ),
        (
            "sklearn.linear_model.LogisticRegression",
            {"preprocess": PreprocessOptions(categorical=["petal_width"])},
            "preprocess.categorical: unknown column 'petal_width'",
            "did you mean 'petal_width_cm'? columns are: sepal_length_cm, sepal_width_cm, "
            "petal_length_cm, petal_width_cm, species",
        ),
        (
            "sklearn.linear_model.LogisticRegression",
            {"preprocess": PreprocessOptions(categorical=["species"])},
            "preprocess.categorical lists the target column 'species'",
            "remove 'species' from preprocess.categorical; the target is never a feature",
        ),
        (
            "sklearn.linear_model.LogisticRegression",
            {
                "preprocess": PreprocessOptions(
                    numeric=["sepal_width_cm"], categorical=["sepal_width_cm"]
                )
            },
            "column 'sepal_width_cm' is listed as both numeric and categorical",
            "keep it in only one of preprocess.numeric and preprocess.categorical",
        ),
    ],
)
def test_errors(
    tmp_path: Path, iris: Run, estimator: str, options: dict[str, Any], message: str, hint: str
) -> None:
    with pytest.raises(StepError) as caught:
        train(iris.train, tmp_path / "model", estimator, **options)
    assert caught.value.message == message
    assert caught.value.hint == hint
    assert list(tmp_path.iterdir()) == []


def test_declared_numeric_with_text(tmp_path: Path, csv_run: Run) -> None:
    with pytest.raises(StepError) as caught:
        train(
            csv_run.train,
            tmp_path / "model",
            "sklearn.linear_model.LogisticRegression",
            preprocess=PreprocessOptions(numeric=["color"]),
        )
    assert caught.value.message.startswith("column 'color' is numeric but has the non-numeric ")
    assert caught.value.hint == "fix the data, or list 'color' in preprocess.categorical"


def test_missing_input(tmp_path: Path) -> None:
    with pytest.raises(StepError) as caught:
        train(tmp_path / "train.parquet", tmp_path / "model", "sklearn.linear_model.Ridge")
    assert caught.value.message == f"input 'train' is missing: {tmp_path / 'train.parquet'}"
