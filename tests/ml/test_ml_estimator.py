"""Predicting a tree ensemble's rows in two halves gives exactly what one call gives."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn.ensemble import RandomForestClassifier, RandomForestRegressor
from sklearn.linear_model import LogisticRegression

from runner.ml.estimator import predict_in_halves

ROWS = 12_001  # above the split threshold, and odd: the halves differ in size


@pytest.fixture(scope="module")
def data() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(3)
    x = rng.normal(size=(ROWS, 5))
    return x, (x[:, 0] + rng.normal(scale=0.5, size=ROWS) > 0).astype(int)


@pytest.mark.parametrize("method", ["predict", "predict_proba"])
@pytest.mark.parametrize("frame", [False, True])
def test_a_forest_in_halves_equals_one_call(
    data: tuple[np.ndarray, np.ndarray], method: str, frame: bool
) -> None:
    x, y = data
    forest = RandomForestClassifier(n_estimators=5, random_state=0).fit(x, y)
    rows = pd.DataFrame(x, columns=[f"c{i}" for i in range(5)]) if frame else x
    if frame:
        forest.fit(rows, y)
    whole = getattr(forest, method)(rows)
    with ThreadPoolExecutor(max_workers=1) as pool:
        shared = predict_in_halves(getattr(forest, method), forest, rows, pool)
    own = predict_in_halves(getattr(forest, method), forest, rows)
    assert shared.shape == whole.shape == own.shape
    assert np.array_equal(shared, whole) and np.array_equal(own, whole)


def test_a_regressor_forest_in_halves_equals_one_call(data: tuple[np.ndarray, np.ndarray]) -> None:
    x, y = data
    forest = RandomForestRegressor(n_estimators=5, random_state=0).fit(x, x[:, 1] + y)
    assert np.array_equal(predict_in_halves(forest.predict, forest, x), forest.predict(x))


def test_other_estimators_and_small_inputs_are_one_call(
    data: tuple[np.ndarray, np.ndarray],
) -> None:
    x, y = data
    calls: list[int] = []
    linear = LogisticRegression().fit(x, y)
    forest = RandomForestClassifier(n_estimators=2, random_state=0).fit(x, y)

    def counted(model: Any) -> Any:
        def predict(rows: np.ndarray) -> np.ndarray:
            calls.append(len(rows))
            return np.asarray(model.predict(rows))

        return predict

    predict_in_halves(counted(linear), linear, x)
    predict_in_halves(counted(forest), forest, x[:99])
    predict_in_halves(counted(forest), forest, x)
    assert calls[:2] == [ROWS, 99]
    assert sorted(calls[2:]) == [ROWS // 2, ROWS - ROWS // 2]  # two threads, either first
