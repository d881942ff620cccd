"""Shared fixtures: real pipelines run once per session on small bundled data."""

from __future__ import annotations

import pytest

from .pipeline import Run, run_pipeline


# 80 rows: a categorical column and a numeric one, both with gaps, and a bool.
def _csv_text() -> str:
    colors = ["red", "green", "blue", ""]
    lines = ["color,size,flag,label"]
    for i in range(80):
        color = colors[i % 4] if i % 9 else ""
        size = "" if i % 11 == 0 else f"{(i * 37) % 50 / 5:.1f}"
        flag = "true" if i % 3 else "false"
        label = "yes" if (color in ("red", "blue")) != (i % 7 == 0) else "no"
        lines.append(f"{color},{size},{flag},{label}")
    return "\n".join(lines) + "\n"


@pytest.fixture(scope="session")
def csv_text() -> str:
    """A CSV with missing values in a categorical and a numeric column."""
    return _csv_text()


@pytest.fixture(scope="session")
def iris(tmp_path_factory: pytest.TempPathFactory) -> Run:
    """Iris with a small random forest: multiclass classification."""
    return run_pipeline(
        tmp_path_factory.mktemp("iris"),
        "sklearn:iris",
        "species",
        "sklearn.ensemble.RandomForestClassifier",
        {"n_estimators": 10},
        stratify=True,
    )


@pytest.fixture(scope="session")
def diabetes(tmp_path_factory: pytest.TempPathFactory) -> Run:
    """Diabetes with ridge regression."""
    return run_pipeline(
        tmp_path_factory.mktemp("diabetes"),
        "sklearn:diabetes",
        "progression",
        "sklearn.linear_model.Ridge",
    )


@pytest.fixture(scope="session")
def csv_run(tmp_path_factory: pytest.TempPathFactory, csv_text: str) -> Run:
    """A CSV with gaps and a categorical column: binary classification."""
    root = tmp_path_factory.mktemp("csv")
    source = root / "source.csv"
    source.write_text(csv_text)
    return run_pipeline(
        root,
        str(source),
        "label",
        "sklearn.linear_model.LogisticRegression",
        stratify=True,
    )
