"""Reference statistics of the training data, written beside the model for `mlops monitor`."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from runner.config.reference import (
    REFERENCE_FILE,
    SAMPLE_SIZE,
    CategoricalStats,
    NumericStats,
    Reference,
    bin_counts,
    equal_frequency_edges,
    serialise,
)
from runner.ml.features import Feature, Kind
from runner.ml.files import write_bytes

if TYPE_CHECKING:
    import pandas as pd

# The sample of a large column is drawn with a fixed seed: the same data gives the same file.
SAMPLE_SEED = 20240601


def column_stats(values: Any, kind: Kind, dtype: str) -> NumericStats | CategoricalStats:
    """The reference statistics of one column (a pandas Series or numpy array)."""
    import numpy as np
    import pandas as pd

    series = pd.Series(values)
    present = series.dropna()
    missing = len(series) - len(present)
    if kind == "categorical":
        counts = present.astype(str).value_counts(sort=False)
        return CategoricalStats(
            dtype=dtype,
            rows=len(series),
            missing=missing,
            count=len(present),
            values={str(k): int(v) for k, v in sorted(counts.items())},
        )
    raw = present.to_numpy(dtype="float64")
    finite = raw[np.isfinite(raw)]
    stats = NumericStats(
        dtype=dtype,
        rows=len(series),
        missing=missing,
        count=len(finite),
        infinite=len(raw) - len(finite),
    )
    if len(finite) == 0:
        return stats
    edges = equal_frequency_edges(finite)
    if len(finite) > SAMPLE_SIZE:
        rng = np.random.default_rng(SAMPLE_SEED)
        sample = finite[rng.choice(len(finite), SAMPLE_SIZE, replace=False)]
    else:
        sample = finite
    return stats.model_copy(
        update={
            "min": float(finite.min()),
            "max": float(finite.max()),
            "mean": float(finite.mean()),
            "std": float(finite.std(ddof=1)) if len(finite) > 1 else 0.0,
            "edges": edges,
            "counts": [int(c) for c in bin_counts(edges, finite)],
            "sample": [float(v) for v in np.sort(sample)],
        }
    )


def build_reference(
    features: pd.DataFrame,
    kinds: dict[str, Kind],
    dtypes: dict[str, str],
    target: pd.Series,
    task: str,
    predictions: Any,
) -> Reference:
    """The reference of a model trained on `features` and `target` that predicted `predictions`."""
    kind: Kind = "categorical" if task == "classification" else "numeric"
    return Reference(
        task=task,
        target=str(target.name),
        rows=len(features),
        columns={
            name: column_stats(features[name], kinds[name], dtypes[name])
            for name in features.columns
        },
        target_stats=column_stats(target, kind, str(target.dtype)),
        prediction=column_stats(predictions, kind, str(getattr(predictions, "dtype", "object"))),
    )


def write_reference(
    directory: Path,
    features: pd.DataFrame,
    columns: list[Feature],
    target: pd.Series,
    task: str,
    predictions: Any,
) -> None:
    """Write `reference.json` into the model directory `directory`."""
    reference = build_reference(
        features,
        kinds={f.name: f.kind for f in columns},
        dtypes={f.name: f.dtype for f in columns},
        target=target,
        task=task,
        predictions=predictions,
    )
    write_bytes(directory / REFERENCE_FILE, serialise(reference).encode("utf-8"))
