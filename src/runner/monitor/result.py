"""What one `mlops monitor` run found: frozen records with one serialise (`as_json`).

The reports (text, JSON, Markdown, HTML) and the history event are all drawn
from a `MonitorResult`, so they cannot disagree.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

Status = Literal["ok", "drift", "not enough data"]
Role = Literal["feature", "prediction", "added"]

_FROZEN = ConfigDict(extra="forbid", frozen=True)


class Plot(BaseModel):
    """Both distributions over the same bins, as shares, for the HTML report."""

    model_config = _FROZEN

    kind: Literal["numeric", "categorical"]
    # numeric: len(labels) + 1 bin edges; categorical: the categories shown.
    edges: list[float] = []
    labels: list[str] = []
    reference: list[float]
    current: list[float]


class ColumnResult(BaseModel):
    """One column (or the model's predictions): the test, its verdict and why."""

    model_config = _FROZEN

    name: str
    role: Role
    kind: str  # "numeric", "categorical", or "" for a column the reference lacks
    status: Status
    test: str | None = None
    statistic: float | None = None
    p_value: float | None = None
    # After the multiple-testing correction (p-value tests only).
    p_adjusted: float | None = None
    threshold: float | None = None
    key: bool = False
    # The test itself flagged the column (beyond `threshold`, or below it for p-values).
    flagged: bool = False
    reference_rows: int = 0
    current_rows: int = 0
    reference_missing: float = 0.0  # shares of rows
    current_missing: float = 0.0
    # Why the column drifted besides the test (each reason one short phrase).
    reasons: list[str] = []
    # Findings that are not drift by themselves: new categories, constant columns.
    notes: list[str] = []
    plot: Plot | None = None

    @property
    def summary(self) -> str:
        """The test result in a few words: `ks p=0.0001 < 0.05` or `wasserstein 0.31 > 0.1`."""
        if self.test is None or self.statistic is None:
            return ""
        if self.p_value is not None and self.threshold is not None:
            p = self.p_adjusted if self.p_adjusted is not None else self.p_value
            sign = "<" if p < self.threshold else ">="
            return f"{self.test} p={p:.3g} {sign} {self.threshold:g}"
        if self.threshold is not None:
            sign = ">" if self.statistic > self.threshold else "<="
            return f"{self.test} {self.statistic:.3g} {sign} {self.threshold:g}"
        return f"{self.test} {self.statistic:.3g}"


class PerformanceCheck(BaseModel):
    model_config = _FROZEN

    metric: str
    rule: str
    current: float | None
    registered: float | None
    result: str  # pass, fail, skip
    reason: str


class Performance(BaseModel):
    """The version's metrics on current data with labels, against its registered ones."""

    model_config = _FROZEN

    rows: int
    metrics: dict[str, float]
    passed: bool
    checks: list[PerformanceCheck]
    note: str = ""


class MonitorResult(BaseModel):
    """Everything one run found, and the verdict."""

    model_config = _FROZEN

    pipeline: str
    model: str
    env: str
    version: str
    source: str  # what was read: a file, or the prediction log (and its window)
    time: str  # when the check ran, ISO 8601 UTC
    rows: int
    skipped_rows: int = 0  # prediction log rows answered by another version
    reference_rows: int
    drift_share: float  # share of feature columns that drifted
    drift_share_threshold: float
    dataset_drift: bool
    schema_drift: bool
    prediction_drift: bool
    undecided: list[str]  # columns without enough data
    passed: bool
    reasons: list[str]  # why it did not pass, one phrase each
    columns: list[ColumnResult]
    performance: Performance | None = None
    notes: list[str] = []

    @property
    def verdict(self) -> str:
        """ok, drift, degraded or undecided (one word for tables and issue titles)."""
        if self.passed:
            return "ok"
        if self.dataset_drift or self.schema_drift or self.prediction_drift:
            return "drift"
        if self.performance is not None and not self.performance.passed:
            return "degraded"
        return "undecided"

    def as_json(self, *, plots: bool = False) -> dict[str, Any]:
        """The result as JSON (plots only when asked: the HTML report draws them)."""
        exclude: Any = None if plots else {"columns": {"__all__": {"plot"}}}
        data = self.model_dump(mode="json", exclude=exclude)
        data["verdict"] = self.verdict
        return data
