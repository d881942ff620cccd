"""The ingest step: bundled datasets, CSV and parquet files, rename, errors."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from runner.config.step_options import IngestOptions
from runner.ml import StepError, run_step
from runner.ml.datasets import snake_case

from .pipeline import Run


def ingest(source: str, out: Path, rename: dict[str, str] | None = None) -> pd.DataFrame:
    run_step("ingest", IngestOptions(source=source, rename=rename or {}), {}, {"data": out})
    return pd.read_parquet(out)


@pytest.mark.parametrize(
    ("label", "expected"),
    [
        ("sepal length (cm)", "sepal_length_cm"),
        ("mean radius", "mean_radius"),
        ("od280/od315_of_diluted_wines", "od280_od315_of_diluted_wines"),
        ("s1", "s1"),
        ("1st value", "c_1st_value"),
        ("(  )", "column"),
    ],
)
def test_snake_case(label: str, expected: str) -> None:
    assert snake_case(label) == expected


def test_iris_columns_and_class_names(iris: Run) -> None:
    frame = pd.read_parquet(iris.data)
    assert list(frame.columns) == [
        "sepal_length_cm",
        "sepal_width_cm",
        "petal_length_cm",
        "petal_width_cm",
        "species",
    ]
    assert len(frame) == 150
    assert sorted(frame["species"].unique()) == ["setosa", "versicolor", "virginica"]


@pytest.mark.parametrize(
    ("name", "target", "classes"),
    [
        ("wine", "cultivar", ["class_0", "class_1", "class_2"]),
        ("breast_cancer", "diagnosis", ["benign", "malignant"]),
    ],
)
def test_other_classification_datasets(
    tmp_path: Path, name: str, target: str, classes: list[str]
) -> None:
    frame = ingest(f"sklearn:{name}", tmp_path / "data.parquet")
    assert frame.columns[-1] == target
    assert sorted(frame[target].unique()) == classes
    assert all(c.isidentifier() for c in frame.columns)


def test_diabetes_target_is_numeric(diabetes: Run) -> None:
    frame = pd.read_parquet(diabetes.data)
    assert frame.columns[-1] == "progression"
    assert frame["progression"].dtype == "float64"
    assert len(frame) == 442


def test_same_input_gives_same_bytes(tmp_path: Path, iris: Run) -> None:
    ingest("sklearn:iris", tmp_path / "again.parquet")
    assert (tmp_path / "again.parquet").read_bytes() == iris.data.read_bytes()


def test_csv_relative_to_cwd_with_rename(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, csv_text: str
) -> None:
    (tmp_path / "raw").mkdir()
    (tmp_path / "raw" / "shop.csv").write_text(csv_text)
    monkeypatch.chdir(tmp_path)
    frame = ingest("raw/shop.csv", Path("out/data.parquet"), rename={"label": "bought"})
    assert list(frame.columns) == ["color", "size", "flag", "bought"]
    assert len(frame) == 80
    assert frame["color"].isna().sum() == 27
    assert frame["size"].isna().sum() == 8


def test_parquet_source_keeps_a_named_index(tmp_path: Path) -> None:
    source = pd.DataFrame({"x": [1.0, 2.0], "y": ["a", "b"]}, index=pd.Index([10, 11], name="id"))
    source.to_parquet(tmp_path / "in.parquet")
    frame = ingest(str(tmp_path / "in.parquet"), tmp_path / "out.parquet")
    assert list(frame.columns) == ["id", "x", "y"]
    assert frame["id"].tolist() == [10, 11]


def test_output_replaces_old_file_without_leftovers(tmp_path: Path) -> None:
    out = tmp_path / "data.parquet"
    out.write_text("stale")
    ingest("sklearn:iris", out)
    assert [p.name for p in tmp_path.iterdir()] == ["data.parquet"]


def _write(path: Path, text: str) -> str:
    path.write_text(text)
    return str(path)


@pytest.mark.parametrize(
    ("source", "rename", "message", "hint"),
    [
        (
            "sklearn:mnist",
            {},
            "unknown dataset 'sklearn:mnist'",
            "use one of: sklearn:iris, sklearn:wine, sklearn:breast_cancer, sklearn:diabetes",
        ),
        (
            "data/missing.csv",
            {},
            "source file not found: data/missing.csv",
            "check ingest.with.source; a path is relative to the repository root",
        ),
        (
            "data/table.xlsx",
            {},
            "unsupported source format '.xlsx': data/table.xlsx",
            "use a .csv or .parquet file, or sklearn:<name> for a bundled dataset",
        ),
        (
            "EMPTY",
            {},
            "cannot read {source}: No columns to parse from file",
            "check that the file is a well-formed UTF-8 CSV or a parquet file",
        ),
        (
            "sklearn:iris",
            {"sepal_lenght_cm": "sepal_length"},
            "rename: unknown column 'sepal_lenght_cm'",
            "did you mean 'sepal_length_cm'? columns are: sepal_length_cm, sepal_width_cm, "
            "petal_length_cm, petal_width_cm, species",
        ),
        (
            "sklearn:iris",
            {"zzz": "a"},
            "rename: unknown column 'zzz'",
            "columns are: sepal_length_cm, sepal_width_cm, petal_length_cm, petal_width_cm, "
            "species",
        ),
        (
            "sklearn:iris",
            {"sepal_length_cm": "species"},
            "rename: two columns would be named 'species'",
            "give every column a distinct name in ingest.with.rename",
        ),
    ],
)
def test_errors(
    tmp_path: Path,
    source: str,
    rename: dict[str, str],
    message: str,
    hint: str,
) -> None:
    if source == "EMPTY":
        source = _write(tmp_path / "empty.csv", "")
    with pytest.raises(StepError) as caught:
        ingest(source, tmp_path / "data.parquet", rename)
    assert caught.value.message == message.format(source=source)
    assert caught.value.hint == hint
    assert not (tmp_path / "data.parquet").exists()
