"""Binary class labels of each stored kind train, evaluate and come back unchanged."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from runner.ml import load_model, prepare_features
from runner.ml.features import Feature

from .pipeline import run_pipeline

# 60 rows whose label follows `x`; the label column is written in each kind.
LABELS: dict[str, tuple[object, object]] = {
    "int": (0, 1),
    "bool": (False, True),
    "str": ("no", "yes"),
}


def _source(root: Path, kind: str) -> Path:
    low, high = LABELS[kind]
    xs = [float(i % 20) for i in range(60)]
    frame = pd.DataFrame(
        {
            "x": xs,
            "z": [float((i * 7) % 5) for i in range(60)],
            "label": [high if x >= 10 else low for x in xs],
        }
    )
    path = root / "source.parquet"
    frame.to_parquet(path, index=False)
    return path


@pytest.mark.parametrize("kind", sorted(LABELS))
def test_binary_labels_round_trip(tmp_path: Path, kind: str) -> None:
    run = run_pipeline(
        tmp_path,
        str(_source(tmp_path, kind)),
        "label",
        "sklearn.linear_model.LogisticRegression",
        stratify=True,
    )
    meta = json.loads((run.model / "meta.json").read_text())
    assert meta["task"] == "classification"
    assert meta["classes"] == list(LABELS[kind])
    assert [type(c) for c in meta["classes"]] == [type(c) for c in LABELS[kind]]
    metrics = json.loads(run.metrics.read_text())
    assert metrics["accuracy"] == 1.0
    model = load_model(run.model)
    test = pd.read_parquet(run.test)
    features = [Feature.from_json(f) for f in meta["features"]]
    predicted = model.predict(prepare_features(test, features)).tolist()
    assert predicted == test["label"].tolist()
    assert {type(v) for v in predicted} == {type(LABELS[kind][0])}
