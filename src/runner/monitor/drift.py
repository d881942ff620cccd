"""Per-column drift: which test, its result, and every finding that is not a test.

The default test depends on the column's type and on the sample size (the
smaller of reference and current): p-value tests (KS, chi-square) for small
samples, where distances are noisy; normalised distances (Wasserstein,
Jensen-Shannon) for large ones, where p-value tests flag differences too small
to matter. `monitor.columns.<name>.test` overrides it. p-values are corrected
for the number of columns tested (Holm by default).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from runner.config.monitor import ColumnOverride, Monitor
from runner.config.reference import CategoricalStats, NumericStats, bin_counts
from runner.monitor import stats
from runner.monitor.result import ColumnResult, Plot, Role

if TYPE_CHECKING:
    import numpy as np

P_VALUE_TESTS = ("ks", "chi2")
NUMERIC_ONLY = ("ks", "wasserstein")
CATEGORICAL_ONLY = ("chi2",)
PLOT_BINS = 20
PLOT_CATEGORIES = 20


class TestMismatch(ValueError):
    """A column override asks for a test that does not fit the column's type."""


@dataclass
class _Pending:
    """A column under way: its result so far and, for p-value tests, the raw p."""

    fields: dict[str, Any]
    reasons: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    alpha: float | None = None


def default_test(kind: str, sample: int, settings: Monitor[Any]) -> str:
    """The test for a column of `kind` when the smaller sample has `sample` values."""
    small = sample <= settings.small_sample
    if kind == "numeric":
        return "ks" if small else "wasserstein"
    return "chi2" if small else "jensenshannon"


def check_columns(
    reference: Mapping[str, NumericStats | CategoricalStats],
    prediction: NumericStats | CategoricalStats | None,
    columns: Mapping[str, Any],
    predictions: Any | None,
    settings: Monitor[Any],
    *,
    expected_extra: tuple[str, ...] = (),
    rows: int | None = None,
) -> list[ColumnResult]:
    """A result for every reference column, the predictions and every added column."""
    pending: dict[str, _Pending] = {}
    for name, ref in reference.items():
        override = settings.columns.get(name, ColumnOverride())
        if override.ignore:
            continue
        pending[name] = _column(name, "feature", ref, columns.get(name), override, settings)
    if prediction is not None and predictions is not None:
        key = "\0prediction"  # never a column's name
        pending[key] = _column(
            "prediction", "prediction", prediction, predictions, ColumnOverride(), settings
        )
    for name in columns:
        override = settings.columns.get(name, ColumnOverride())
        if name in reference or name in expected_extra or override.ignore:
            continue
        pending[name] = _Pending(
            {
                "name": name,
                "role": "added",
                "kind": "",
                "current_rows": rows if rows is not None else len(columns[name]),
            },
            reasons=["not in the training data"],
        )
    raw = {k: p.fields["p_value"] for k, p in pending.items() if p.alpha is not None}
    adjusted = stats.adjust(raw, settings.correction)
    out = []
    for key, item in pending.items():
        if key in adjusted:
            item.fields["p_adjusted"] = adjusted[key]
            assert item.alpha is not None
            item.fields["flagged"] = adjusted[key] < item.alpha
        flagged = item.fields.get("flagged", False)
        status = item.fields.pop("status", None) or ("drift" if flagged or item.reasons else "ok")
        out.append(
            ColumnResult(**item.fields, status=status, reasons=item.reasons, notes=item.notes)
        )
    return out


def _column(
    name: str,
    role: Role,
    ref: NumericStats | CategoricalStats,
    data: Any | None,
    override: ColumnOverride,
    settings: Monitor[Any],
) -> _Pending:
    ref_missing = ref.missing / ref.rows if ref.rows else 0.0
    base: dict[str, Any] = {
        "name": name,
        "role": role,
        "kind": ref.kind,
        "key": override.key,
        "reference_rows": ref.rows,
        "reference_missing": ref_missing,
    }
    if data is None:
        return _Pending(base, reasons=["missing from the data"])
    rows = len(data)
    missing = data.null_count
    base.update(current_rows=rows, current_missing=missing / rows if rows else 0.0)
    item = _Pending(base)
    if rows and missing / rows - ref_missing > settings.max_missing_increase:
        item.reasons.append(f"missing values {missing / rows:.1%} (training {ref_missing:.1%})")
    if isinstance(ref, NumericStats):
        _numeric(item, ref, data, override, settings)
    else:
        _categorical(item, ref, data, override, settings)
    return item


def _numeric(
    item: _Pending,
    ref: NumericStats,
    data: Any,
    override: ColumnOverride,
    settings: Monitor[Any],
) -> None:
    import numpy as np

    values = _as_float(data)
    if values is None:
        item.reasons.append(f"type changed: numeric in training, {data.type} here")
        return
    present = values[~np.isnan(values)]
    finite = present[np.isfinite(present)]
    if len(finite) < len(present) and ref.infinite == 0:
        item.reasons.append(f"{len(present) - len(finite)} infinite values (none in training)")
    if ref.constant:
        item.notes.append(f"constant in training ({ref.min:g})")
    elif len(finite) > 1 and finite.min() == finite.max():
        item.notes.append(f"constant in the current data ({finite[0]:g})")
    if len(finite) < settings.min_rows or ref.count == 0:
        _undecided(item, len(finite), ref.count, settings)
        return
    test = override.test or default_test("numeric", min(ref.count, len(finite)), settings)
    if test in CATEGORICAL_ONLY:
        raise TestMismatch(f"{test} needs a categorical column, '{item.fields['name']}' is numeric")
    sample = np.asarray(ref.sample, dtype="float64")
    if test == "ks":
        outcome = stats.ks(sample, finite)
    elif test == "wasserstein":
        outcome = stats.wasserstein(sample, finite, _scale(ref))
    else:
        current = bin_counts(ref.edges, finite)
        outcome = (stats.psi if test == "psi" else stats.jensenshannon)(ref.counts, current)
    _judge(item, test, outcome, override, settings)
    item.fields["plot"] = _numeric_plot(sample, finite)


def _scale(ref: NumericStats) -> float:
    # A constant reference has no spread: compare with its magnitude instead.
    if ref.std:
        return ref.std
    return abs(ref.mean or 0.0) or 1.0


def _categorical(
    item: _Pending,
    ref: CategoricalStats,
    data: Any,
    override: ColumnOverride,
    settings: Monitor[Any],
) -> None:
    counts = _value_counts(data)
    present = sum(counts.values())
    new = sorted(k for k in counts if k not in ref.values)
    if new:
        shown = ", ".join(new[:5]) + (f" and {len(new) - 5} more" if len(new) > 5 else "")
        rows = sum(counts[k] for k in new)
        item.notes.append(f"new categories: {shown} ({rows} rows)")
    if ref.constant:
        item.notes.append(f"constant in training ({next(iter(ref.values))})")
    elif len(counts) == 1 and present > 1:
        item.notes.append(f"constant in the current data ({next(iter(counts))})")
    if present < settings.min_rows or ref.count == 0:
        _undecided(item, present, ref.count, settings)
        return
    test = override.test or default_test("categorical", min(ref.count, present), settings)
    if test in NUMERIC_ONLY:
        raise TestMismatch(f"{test} needs a numeric column, '{item.fields['name']}' is categorical")
    names, r, c = stats.category_counts(ref.values, counts)
    if test == "chi2":
        outcome = stats.chi2(r, c)
    else:
        outcome = (stats.psi if test == "psi" else stats.jensenshannon)(r, c)
    _judge(item, test, outcome, override, settings)
    item.fields["plot"] = _categorical_plot(names, r, c)


def _undecided(item: _Pending, current: int, reference: int, settings: Monitor[Any]) -> None:
    item.fields["status"] = "not enough data"
    if reference == 0:
        item.reasons.append("no values in the training data")
    else:
        item.reasons.append(f"{current} values, fewer than min_rows {settings.min_rows}")


def _judge(
    item: _Pending,
    test: str,
    outcome: stats.StatOutcome,
    override: ColumnOverride,
    settings: Monitor[Any],
) -> None:
    item.fields.update(test=test, statistic=outcome.statistic)
    if test in P_VALUE_TESTS:
        item.alpha = override.threshold or settings.alpha
        item.fields.update(p_value=outcome.p_value, threshold=item.alpha)
        return  # judged once every p-value is corrected
    threshold = override.threshold or settings.threshold
    item.fields.update(threshold=threshold, flagged=outcome.statistic > threshold)


def _as_float(data: Any) -> np.ndarray | None:
    """The column as float64 with NaN for missing values; None when it holds text."""
    import pyarrow as pa
    import pyarrow.compute as pc

    kind = data.type
    if pa.types.is_null(kind):
        import numpy as np

        return np.full(len(data), np.nan)
    if not (pa.types.is_integer(kind) or pa.types.is_floating(kind) or pa.types.is_boolean(kind)):
        try:
            data = pc.cast(data, pa.float64())
        except (pa.ArrowException, TypeError):
            return None
    return _float64(pc.cast(data, pa.float64()))


def _float64(data: Any) -> np.ndarray:
    """A float64 ChunkedArray as numpy, NaN for nulls, read from its buffers: pyarrow's
    own to_numpy imports pandas, half a second this path otherwise never pays."""
    import numpy as np

    parts = []
    for chunk in data.chunks:
        if len(chunk) == 0:
            continue
        validity, values = chunk.buffers()
        end = chunk.offset + len(chunk)
        x = np.frombuffer(values, dtype=np.float64, count=end)[chunk.offset :]
        if chunk.null_count:
            bits = np.unpackbits(np.frombuffer(validity, dtype=np.uint8), bitorder="little")
            x = np.where(bits[chunk.offset : end].astype(bool), x, np.nan)
        parts.append(x)
    return np.concatenate(parts) if parts else np.empty(0)


def _value_counts(data: Any) -> dict[str, int]:
    """Non-missing values and how often each occurs, as the reference keys them (text)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if pa.types.is_floating(data.type):
        # Whole floats are the integers they stand for ("1", not "1.0").
        values = data.to_pylist()
        out: dict[str, int] = {}
        for v in values:
            if v is None or v != v:
                continue
            key = str(int(v)) if float(v).is_integer() else str(v)
            out[key] = out.get(key, 0) + 1
        return out
    counts = pc.value_counts(data)
    keys = counts.field("values").to_pylist()
    return {
        str(k): int(n)
        for k, n in zip(keys, counts.field("counts").to_pylist(), strict=True)
        if k is not None
    }


def _numeric_plot(reference: np.ndarray, current: np.ndarray) -> Plot:
    import numpy as np

    lo = float(min(reference.min(), current.min()))
    hi = float(max(reference.max(), current.max()))
    if hi <= lo:
        hi = lo + 1.0
    edges = np.linspace(lo, hi, PLOT_BINS + 1)
    ref, _ = np.histogram(reference, edges)
    cur, _ = np.histogram(current, edges)
    return Plot(
        kind="numeric",
        edges=[float(e) for e in edges],
        reference=[float(v) for v in stats.shares(ref)],
        current=[float(v) for v in stats.shares(cur)],
    )


def _categorical_plot(names: list[str], reference: list[int], current: list[int]) -> Plot:
    ref, cur = stats.shares(reference), stats.shares(current)
    order = sorted(range(len(names)), key=lambda i: -(ref[i] + cur[i]))[:PLOT_CATEGORIES]
    return Plot(
        kind="categorical",
        labels=[names[i] for i in order],
        reference=[float(ref[i]) for i in order],
        current=[float(cur[i]) for i in order],
    )
