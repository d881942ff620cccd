"""Drift statistics against scipy, calibration of the tests, and the findings that are not tests.

The reference of each case is built by the training code (`ml.reference.column_stats`)
from the same values scipy sees, and the column goes through `monitor.drift` as
`mlops monitor` sends it, so what is compared is the whole path, not a wrapper.
"""

from __future__ import annotations

import math
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from scipy import stats as sps
from scipy.spatial import distance

from runner.config.models import Rule
from runner.config.monitor import Monitor
from runner.config.reference import NumericStats
from runner.ml.features import Kind
from runner.ml.reference import column_stats
from runner.monitor import drift
from runner.monitor import stats as ours
from runner.monitor.result import ColumnResult


def settings(**values: Any) -> Monitor[Rule]:
    return Monitor[Rule].model_validate(values)


def check(
    reference: dict[str, Any],
    current: dict[str, Any],
    config: Monitor[Rule] | None = None,
    kinds: dict[str, Kind] | None = None,
) -> dict[str, ColumnResult]:
    """Run the column checks on plain lists/arrays, the reference built from `reference`."""
    kinds = kinds or {}
    refs = {
        name: column_stats(
            values,
            kinds.get(name, "numeric"),
            "float64" if kinds.get(name) != "categorical" else "object",
        )
        for name, values in reference.items()
    }
    columns = {name: pa.chunked_array([pa.array(values)]) for name, values in current.items()}
    results = drift.check_columns(refs, None, columns, None, config or settings())
    return {r.name: r for r in results}


RNG = np.random.default_rng(7)
A = RNG.normal(0, 1, 400)
B = RNG.normal(0.3, 1.2, 300)
C = RNG.exponential(2.0, 900)
D = RNG.normal(0, 1, 2500)
E = RNG.normal(0.05, 1, 3000)

# (case id, reference values, current values)
NUMERIC = [
    ("normal-shifted", A, B),
    ("normal-same", A, RNG.normal(0, 1, 350)),
    ("exponential-vs-normal", C, A),
    ("large", D, E),
    ("ties", np.repeat([1.0, 2.0, 3.0], 50), np.repeat([1.0, 2.0, 3.0, 4.0], 30)),
]


@pytest.mark.parametrize(("case", "ref", "cur"), NUMERIC, ids=[c[0] for c in NUMERIC])
def test_ks_equals_scipy(case: str, ref: np.ndarray, cur: np.ndarray) -> None:
    result = check({"x": ref}, {"x": cur}, settings(correction="none"))["x"]
    expected = sps.ks_2samp(ref, cur, method=ours.ks_method(len(ref), len(cur)))
    assert result.test == "ks" if min(len(ref), len(cur)) <= 1000 else True
    forced = check(
        {"x": ref}, {"x": cur}, settings(correction="none", columns={"x": {"test": "ks"}})
    )
    assert forced["x"].statistic == pytest.approx(expected.statistic, abs=1e-12)
    assert forced["x"].p_value == pytest.approx(expected.pvalue, rel=1e-9, abs=1e-300)
    del result


@pytest.mark.parametrize(("case", "ref", "cur"), NUMERIC, ids=[c[0] for c in NUMERIC])
def test_wasserstein_equals_scipy_over_reference_sd(
    case: str, ref: np.ndarray, cur: np.ndarray
) -> None:
    result = check({"x": ref}, {"x": cur}, settings(columns={"x": {"test": "wasserstein"}}))["x"]
    expected = sps.wasserstein_distance(ref, cur) / np.std(ref, ddof=1)
    assert result.statistic == pytest.approx(expected, rel=1e-12)
    assert result.flagged == (expected > 0.1)


def _binned(ref: np.ndarray, cur: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Counts in the reference's equal-frequency bins, computed independently of the code."""
    edges = np.unique(np.quantile(ref, np.linspace(0, 1, 21)[1:-1]))
    return (
        np.bincount(np.digitize(ref, edges, right=True), minlength=len(edges) + 1),
        np.bincount(np.digitize(cur, edges, right=True), minlength=len(edges) + 1),
    )


@pytest.mark.parametrize(("case", "ref", "cur"), NUMERIC, ids=[c[0] for c in NUMERIC])
def test_jensenshannon_equals_scipy_on_bins(case: str, ref: np.ndarray, cur: np.ndarray) -> None:
    result = check({"x": ref}, {"x": cur}, settings(columns={"x": {"test": "jensenshannon"}}))["x"]
    r, c = _binned(ref, cur)
    assert result.statistic == pytest.approx(
        distance.jensenshannon(r / r.sum(), c / c.sum()), rel=1e-9
    )


def _psi_formula(r: np.ndarray, c: np.ndarray) -> float:
    total = 0.0
    for ri, ci in zip(r / r.sum(), c / c.sum(), strict=True):
        ri, ci = max(ri, 1e-4), max(ci, 1e-4)
        total += (ci - ri) * math.log(ci / ri)
    return total


@pytest.mark.parametrize(("case", "ref", "cur"), NUMERIC, ids=[c[0] for c in NUMERIC])
def test_psi_equals_its_formula(case: str, ref: np.ndarray, cur: np.ndarray) -> None:
    result = check({"x": ref}, {"x": cur}, settings(columns={"x": {"test": "psi"}}))["x"]
    assert result.statistic == pytest.approx(_psi_formula(*_binned(ref, cur)), rel=1e-9)


CATEGORICAL = [
    ("same", ["a"] * 50 + ["b"] * 30 + ["c"] * 20, ["a"] * 45 + ["b"] * 35 + ["c"] * 20),
    ("shifted", ["a"] * 50 + ["b"] * 50, ["a"] * 20 + ["b"] * 80),
    ("new-category", ["a"] * 60 + ["b"] * 40, ["a"] * 30 + ["b"] * 30 + ["z"] * 40),
    ("one-missing", ["a"] * 40 + ["b"] * 40 + ["c"] * 40, ["a"] * 50 + ["b"] * 50),
]


def _crosstab(ref: list[str], cur: list[str]) -> np.ndarray:
    r, c = Counter(ref), Counter(cur)
    keys = sorted(set(r) | set(c))
    return np.array([[r[k] for k in keys], [c[k] for k in keys]], dtype=float)


@pytest.mark.parametrize(("case", "ref", "cur"), CATEGORICAL, ids=[c[0] for c in CATEGORICAL])
def test_chi2_equals_scipy(case: str, ref: list[str], cur: list[str]) -> None:
    result = check({"k": ref}, {"k": cur}, settings(correction="none"), {"k": "categorical"})["k"]
    expected = sps.chi2_contingency(_crosstab(ref, cur), correction=False)
    assert result.test == "chi2"
    assert result.statistic == pytest.approx(expected.statistic, rel=1e-12)
    assert result.p_value == pytest.approx(expected.pvalue, rel=1e-9, abs=1e-300)


@pytest.mark.parametrize(("case", "ref", "cur"), CATEGORICAL, ids=[c[0] for c in CATEGORICAL])
def test_categorical_distances_equal_scipy_and_formula(
    case: str, ref: list[str], cur: list[str]
) -> None:
    table = _crosstab(ref, cur)
    js = check(
        {"k": ref},
        {"k": cur},
        settings(columns={"k": {"test": "jensenshannon"}}),
        {"k": "categorical"},
    )
    psi = check(
        {"k": ref}, {"k": cur}, settings(columns={"k": {"test": "psi"}}), {"k": "categorical"}
    )
    p, q = table[0] / table[0].sum(), table[1] / table[1].sum()
    assert js["k"].statistic == pytest.approx(distance.jensenshannon(p, q), rel=1e-9)
    assert psi["k"].statistic == pytest.approx(_psi_formula(table[0], table[1]), rel=1e-9)


def test_holm_and_bonferroni_by_formula() -> None:
    p = {"a": 0.01, "b": 0.04, "c": 0.03, "d": 0.5}
    # Holm: sorted p_(i) * (m - i + 1), made monotone.
    assert ours.adjust(p, "holm") == pytest.approx({"a": 0.04, "c": 0.09, "b": 0.09, "d": 0.5})
    assert ours.adjust(p, "bonferroni") == pytest.approx(
        {"a": 0.04, "b": 0.16, "c": 0.12, "d": 1.0}
    )
    assert ours.adjust(p, "none") == p


# ------------------------------------------------------------------ calibration

TRIALS = 200
COLUMNS = ("a", "b", "c")


def _reference(rng: np.random.Generator, rows: int = 5000) -> dict[str, NumericStats]:
    out = {}
    for name in COLUMNS:
        stats = column_stats(rng.normal(0, 1, rows), "numeric", "float64")
        assert isinstance(stats, NumericStats)
        out[name] = stats
    return out


def _trials(
    shift: float, rows: int, seed: int, trials: int = TRIALS
) -> list[dict[str, ColumnResult]]:
    rng = np.random.default_rng(seed)
    refs = _reference(rng)
    config = settings()
    out = []
    draws = rng.normal(0, 1, (trials, len(COLUMNS), rows))
    draws[:, 0, :] += shift
    for trial in draws:
        columns = {name: pa.chunked_array([trial[i]]) for i, name in enumerate(COLUMNS)}
        out.append({r.name: r for r in drift.check_columns(refs, None, columns, None, config)})
    return out


def test_no_drift_is_flagged_at_most_alpha_of_the_time() -> None:
    # Any column flagged counts as a false alarm: Holm holds that chance to alpha (0.05).
    # Tolerance: three binomial standard deviations at 200 trials, sqrt(.05 * .95 / 200) * 3.
    trials = _trials(0.0, 1000, seed=11)
    flagged = sum(any(r.status == "drift" for r in t.values()) for t in trials) / TRIALS
    tolerance = 3 * math.sqrt(0.05 * 0.95 / TRIALS)
    assert flagged <= 0.05 + tolerance
    assert all(r.test == "ks" for t in trials for r in t.values())


def test_no_drift_at_large_samples_is_not_flagged_by_the_distance() -> None:
    trials = _trials(0.0, 5000, seed=12, trials=50)
    assert all(r.test == "wasserstein" for t in trials for r in t.values())
    assert not any(r.status == "drift" for t in trials for r in t.values())


def test_half_sd_shift_at_1000_rows_is_detected() -> None:
    trials = _trials(0.5, 1000, seed=13)
    detected = sum(t["a"].status == "drift" for t in trials) / TRIALS
    assert detected >= 0.95
    # The other columns did not move: flagged no more often than alpha allows.
    others = sum(t["b"].status == "drift" or t["c"].status == "drift" for t in trials) / TRIALS
    assert others <= 0.05 + 3 * math.sqrt(0.05 * 0.95 / TRIALS)


# ------------------------------------------------------------------ findings


def test_new_category_is_reported() -> None:
    ref = ["red"] * 60 + ["blue"] * 40
    cur = ["red"] * 50 + ["blue"] * 40 + ["green"] * 10
    result = check({"colour": ref}, {"colour": cur}, kinds={"colour": "categorical"})["colour"]
    assert "new categories: green (10 rows)" in result.notes


def test_infinite_and_missing_values_are_reported_not_crashing() -> None:
    cur = [0.1] * 20 + [math.inf] * 5 + [None] * 25 + list(np.linspace(-1, 1, 50))
    result = check({"x": np.linspace(-1, 1, 200)}, {"x": cur})["x"]
    assert result.status == "drift"
    assert "5 infinite values (none in training)" in result.reasons
    assert "missing values 25.0% (training 0.0%)" in result.reasons


def test_not_enough_rows_is_never_a_pass() -> None:
    result = check({"x": np.linspace(0, 1, 100)}, {"x": [0.5] * 10})["x"]
    assert result.status == "not enough data"
    assert result.reasons == ["10 values, fewer than min_rows 30"]


def test_constant_columns_are_noted_and_judged() -> None:
    same = check({"x": [3.0] * 100}, {"x": [3.0] * 60})["x"]
    assert same.status == "ok" and same.notes == ["constant in training (3)"]
    moved = check({"x": [3.0] * 100}, {"x": [4.0] * 60})["x"]
    assert moved.status == "drift"


def test_schema_changes_are_reported() -> None:
    refs = {"x": np.linspace(0, 1, 100), "y": np.linspace(0, 1, 100)}
    results = check(refs, {"x": ["a", "b"] * 50, "extra": [1.0] * 100})
    assert results["x"].reasons == ["type changed: numeric in training, string here"]
    assert results["y"].reasons == ["missing from the data"]
    assert results["extra"].role == "added" and results["extra"].status == "drift"


def test_a_test_that_does_not_fit_the_type_is_refused() -> None:
    with pytest.raises(drift.TestMismatch, match="chi2 needs a categorical column, 'x' is numeric"):
        check(
            {"x": np.linspace(0, 1, 100)},
            {"x": np.linspace(0, 1, 100)},
            settings(columns={"x": {"test": "chi2"}}),
        )


def test_no_rows_at_all_is_not_enough_data_everywhere() -> None:
    refs = {
        "x": column_stats(np.linspace(0, 1, 100), "numeric", "float64"),
        "k": column_stats(pd.Series(["a", "b"] * 50), "categorical", "object"),
    }
    empty = {name: pa.chunked_array([], pa.null()) for name in refs}
    prediction = column_stats(pd.Series(["a", "b"] * 50), "categorical", "object")
    results = drift.check_columns(
        refs, prediction, empty, pa.chunked_array([], pa.null()), settings()
    )
    assert [(r.name, r.status) for r in results] == [
        ("x", "not enough data"),
        ("k", "not enough data"),
        ("prediction", "not enough data"),
    ]


def test_a_parquet_file_is_read_column_by_column(tmp_path: Path) -> None:
    import pyarrow.parquet as pq

    from runner.monitor.current import read_file

    path = tmp_path / "scored.parquet"
    pq.write_table(
        pa.table({"x": [1.0, None, 3.0], "prediction": ["a", "b", "a"], "id": [7, 8, 9]}), path
    )
    current = read_file(path)
    assert (current.rows, list(current.columns), "x" in current.columns) == (3, ["x", "id"], True)
    assert current.columns["x"].to_pylist() == [1.0, None, 3.0]
    assert current.predictions is not None and current.predictions.to_pylist() == ["a", "b", "a"]
    with pytest.raises(KeyError):
        current.columns["prediction"]
