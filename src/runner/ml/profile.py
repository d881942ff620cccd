"""A deterministic profile of the training data, kept with the model for drift checks."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from runner.ml.features import Kind

if TYPE_CHECKING:
    import pandas as pd

QUANTILES = (0.01, 0.05, 0.25, 0.5, 0.75, 0.95, 0.99)
HISTOGRAM_BINS = 10


def profile_column(series: pd.Series, kind: Kind, dtype: str) -> dict[str, Any]:
    """Count, missing and either numeric statistics or categorical value counts."""
    import numpy as np

    present = series.dropna()
    result: dict[str, Any] = {
        "dtype": dtype,
        "kind": kind,
        "count": len(present),
        "missing": len(series) - len(present),
    }
    if kind == "categorical":
        counts: dict[str, int] = {}
        for value in present.tolist():
            key = str(value)
            counts[key] = counts.get(key, 0) + 1
        result["values"] = dict(sorted(counts.items()))
        return result
    values = present.to_numpy(dtype="float64")
    if len(values) == 0:
        return result
    edges_counts = np.histogram(values, bins=HISTOGRAM_BINS)
    result.update(
        min=float(values.min()),
        max=float(values.max()),
        mean=float(values.mean()),
        # Sample standard deviation, as pandas reports it; undefined for one value.
        std=float(values.std(ddof=1)) if len(values) > 1 else None,
        quantiles={
            str(q): float(v) for q, v in zip(QUANTILES, np.quantile(values, QUANTILES), strict=True)
        },
        histogram={
            "counts": [int(c) for c in edges_counts[0]],
            "edges": [float(e) for e in edges_counts[1]],
        },
    )
    return result


def profile_table(
    features: pd.DataFrame,
    kinds: dict[str, Kind],
    dtypes: dict[str, str],
    target: pd.Series,
    target_kind: Kind,
) -> dict[str, Any]:
    """Profile every prepared feature column and the target."""
    columns = {
        name: profile_column(features[name], kinds[name], dtypes[name]) for name in features.columns
    }
    target_name = str(target.name)
    columns[target_name] = profile_column(target, target_kind, str(target.dtype))
    return {"columns": columns, "rows": len(features), "target": target_name}
