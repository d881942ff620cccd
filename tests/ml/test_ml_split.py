"""The split step: seeded, optionally stratified, recording target and seed."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest

from runner.config.step_options import SplitOptions
from runner.ml import StepError, run_step

from .pipeline import Run


def split(data: Path, out: Path, **options: object) -> tuple[Path, Path]:
    train, test = out / "train.parquet", out / "test.parquet"
    run_step(
        "split",
        SplitOptions(**options),  # type: ignore[arg-type]
        {"data": data},
        {"train": train, "test": test},
    )
    return train, test


def test_sizes_metadata_and_stratification(iris: Run) -> None:
    train = pd.read_parquet(iris.train)
    test = pd.read_parquet(iris.test)
    assert (len(train), len(test)) == (112, 38)
    # Stratified: every class keeps its share on both sides.
    assert sorted(test["species"].value_counts().tolist()) == [12, 13, 13]
    metadata = pq.read_schema(iris.train).metadata
    assert metadata[b"mlops.target"] == b"species"
    assert metadata[b"mlops.seed"] == b"7"
    assert pq.read_schema(iris.test).metadata[b"mlops.target"] == b"species"


def test_same_seed_same_bytes_other_seed_other_rows(tmp_path: Path, iris: Run) -> None:
    train, test = split(iris.data, tmp_path / "same", target="species", seed=7, stratify=True)
    assert train.read_bytes() == iris.train.read_bytes()
    assert test.read_bytes() == iris.test.read_bytes()
    other, _ = split(iris.data, tmp_path / "other", target="species", seed=8, stratify=True)
    assert not pd.read_parquet(other).equals(pd.read_parquet(iris.train))


def _table(path: Path, labels: list[str | None]) -> Path:
    pd.DataFrame({"x": [float(i) for i in range(len(labels))], "label": labels}).to_parquet(path)
    return path


@pytest.mark.parametrize(
    ("labels", "options", "message", "hint"),
    [
        (
            ["a", "b"] * 5,
            {"target": "labels"},
            "target column 'labels' not found in {data}",
            "did you mean 'label'? columns are: x, label",
        ),
        (
            ["a", "b"] * 5,
            {"target": "y"},
            "target column 'y' not found in {data}",
            "columns are: x, label",
        ),
        (
            ["a", None, "b", "a"],
            {"target": "label"},
            "target column 'label' has 1 missing value(s)",
            "drop or fill those rows in the source data before the split",
        ),
        (
            ["a", "b"] * 5 + ["rare"],
            {"target": "label", "stratify": True},
            "cannot stratify on 'label': class 'rare' has only 1 row",
            "set stratify: false, or add rows of that class",
        ),
        (
            ["a", "b", "c"] * 4,
            {"target": "label", "stratify": True, "test_size": 0.1},
            "cannot split 12 rows with test_size 0.1: The test_size = 2 should be greater or "
            "equal to the number of classes = 3",
            "change test_size, add rows, or set stratify: false",
        ),
    ],
)
def test_errors(
    tmp_path: Path,
    labels: list[str | None],
    options: dict[str, object],
    message: str,
    hint: str,
) -> None:
    data = _table(tmp_path / "data.parquet", labels)
    with pytest.raises(StepError) as caught:
        split(data, tmp_path / "out", **options)
    assert caught.value.message == message.format(data=data)
    assert caught.value.hint == hint
    assert not (tmp_path / "out").exists()


def test_missing_and_unreadable_input(tmp_path: Path) -> None:
    with pytest.raises(StepError) as caught:
        split(tmp_path / "nope.parquet", tmp_path, target="y")
    assert caught.value.message == f"input 'data' is missing: {tmp_path / 'nope.parquet'}"
    assert caught.value.hint == "run the stage that produces it first (dvc repro), or fix the path"

    bad = tmp_path / "bad.parquet"
    bad.write_text("not parquet")
    with pytest.raises(StepError) as caught:
        split(bad, tmp_path, target="y")
    assert caught.value.message.startswith(f"input 'data' is not a readable parquet file: {bad} (")
    assert caught.value.hint == "re-run the stage that produces it (dvc repro)"


@pytest.mark.parametrize("seed", [0, 7, 42, 2**32 - 1])
@pytest.mark.parametrize("test_size", [0.1, 0.25, 0.333, 0.5, 0.9])
@pytest.mark.parametrize(
    "labels",
    [
        None,
        ["a", "b", "c"] * 20 + ["a"] * 7 + ["b"] * 2,
        [True, False, False, True, False] * 9,
        [3, 1, 2, 2, 1, 1, 1, 1, 2, 3, 10, 10] * 4 + [7, 7],
        ["é", "z", "A", "ä", "a"] * 6 + ["z", "z"],
    ],
)
def test_split_rows_are_scikit_learns(
    seed: int, test_size: float, labels: list[object] | None
) -> None:
    """split_rows picks exactly the rows, in the order, train_test_split picks."""
    import numpy as np
    from sklearn.model_selection import train_test_split

    from runner.ml.split import split_rows

    n = 51 if labels is None else len(labels)
    stratify = None if labels is None else pd.Series(labels)
    try:
        expected = train_test_split(
            np.arange(n), test_size=test_size, random_state=seed, stratify=stratify
        )
    except ValueError as exc:
        with pytest.raises(ValueError) as caught:
            split_rows(n, test_size, seed, None if stratify is None else stratify.to_numpy())
        assert str(caught.value) == str(exc)
        return
    train, test = split_rows(n, test_size, seed, None if stratify is None else stratify.to_numpy())
    assert train.tolist() == expected[0].tolist()
    assert test.tolist() == expected[1].tolist()


@pytest.mark.parametrize(
    ("n", "test_size", "labels"),
    [(1, 0.5, None), (0, 0.25, None), (12, 0.1, ["a", "b", "c"] * 4), (8, 0.8, ["a", "b"] * 4)],
)
def test_split_rows_refuses_as_scikit_learn_does(
    n: int, test_size: float, labels: list[str] | None
) -> None:
    import numpy as np
    from sklearn.model_selection import train_test_split

    from runner.ml.split import split_rows

    with pytest.raises(ValueError) as expected:
        train_test_split(np.arange(n), test_size=test_size, random_state=0, stratify=labels)
    with pytest.raises(ValueError) as caught:
        split_rows(n, test_size, 0, None if labels is None else np.array(labels, dtype=object))
    assert str(caught.value) == str(expected.value)
