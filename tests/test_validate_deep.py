"""`mlops validate --deep`: mistakes that would surface only once training starts.

Each row edits the `mlops init` example and expects the exact first error line; the
rest of the output must carry the hint. No training runs: the checks import the
estimator and read the data's header.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from conftest import run_cli

PIPELINE = "pipelines/iris.yaml"
DEPLOYMENTS = "deployments.yaml"

CASES = [
    (
        "misspelt-estimator",
        PIPELINE,
        "sklearn.ensemble.RandomForestClassifier",
        "sklearn.linear_model.Ridg",
        "pipelines/iris.yaml:17:18: error: stages.train.with.estimator: estimator "
        "'sklearn.linear_model.Ridg': module 'sklearn.linear_model' has no attribute 'Ridg'",
        "hint: did you mean 'sklearn.linear_model.Ridge'?",
    ),
    (
        "unknown-param",
        PIPELINE,
        "max_depth: 5",
        "max_dept: 5",
        "pipelines/iris.yaml:6:30: error: stages.train.with.params: estimator "
        "'sklearn.ensemble.RandomForestClassifier' has no parameter 'max_dept'",
        "hint: did you mean 'max_depth'?",
    ),
    (
        "wrong-target",
        PIPELINE,
        "target: species",
        "target: specie",
        "pipelines/iris.yaml:13:20: error: stages.split.with.target: the data from stage "
        "'ingest' has no column 'specie'",
        "hint: did you mean 'species'? columns are: sepal_length_cm, sepal_width_cm, "
        "petal_length_cm, petal_width_cm, species",
    ),
    (
        "classification-metric-on-a-regressor",
        PIPELINE,
        "sklearn.ensemble.RandomForestClassifier",
        "sklearn.ensemble.RandomForestRegressor",
        "pipelines/iris.yaml:21:22: error: stages.evaluate.with.metrics[0]: metric 'accuracy' "
        "is for classification models, but RandomForestRegressor (stage 'train') is a regressor",
        "hint: use one of: rmse, mae, r2 (or omit metrics to compute all)",
    ),
    (
        "unregistered-version",
        DEPLOYMENTS,
        "production: {}",
        "production: {iris-classifier: v9.9.9}",
        "deployments.yaml:6:31: error: production.iris-classifier: version v9.9.9 was never "
        "registered",
        "hint: none is registered; register one with `mlops register iris`",
    ),
]


@pytest.mark.parametrize(
    ("file", "old", "new", "first", "hint"),
    [case[1:] for case in CASES],
    ids=[case[0] for case in CASES],
)
def test_deep_reports_at_the_line(
    example: Path, file: str, old: str, new: str, first: str, hint: str
) -> None:
    subprocess.run(["git", "init", "--quiet"], cwd=example, check=True)
    path = example / file
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new, 1))
    # Plain validate does not look this deep.
    assert run_cli("validate", cwd=example).returncode == 0
    result = run_cli("validate", "--deep", cwd=example)
    assert (result.returncode, result.stdout) == (2, "")
    assert result.stderr.splitlines()[0] == first
    assert hint in result.stderr
    assert "Traceback" not in result.stderr


def test_deep_passes_the_example(example: Path) -> None:
    subprocess.run(["git", "init", "--quiet"], cwd=example, check=True)
    result = run_cli("validate", "--deep", cwd=example)
    assert (result.returncode, result.stderr) == (0, "")
    assert result.stdout == (
        "ok: iris-demo: 1 pipeline(s), 4 stage(s), 2 environment(s) "
        "(deep: estimators, columns, metrics, versions)\n"
    )


def test_deep_reads_a_csv_header_after_rename(example: Path) -> None:
    subprocess.run(["git", "init", "--quiet"], cwd=example, check=True)
    (example / "data").mkdir()
    (example / "data/wine.csv").write_text("alcohol,hue,class\n1.0,2.0,a\n")
    path = example / PIPELINE
    text = path.read_text().replace(
        'with: {source: "sklearn:iris"}',
        "with: {source: data/wine.csv, rename: {class: cultivar}}",
    )
    path.write_text(text.replace("target: species", "target: class"))
    result = run_cli("validate", "--deep", cwd=example)
    assert result.returncode == 2
    assert "has no column 'class'" in result.stderr.splitlines()[0]
    assert "columns are: alcohol, hue, cultivar" in result.stderr
