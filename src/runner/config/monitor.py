"""The `monitor:` section of a pipeline file: what `mlops monitor` compares, how, and when.

Generic over the rule type so that performance rules are exactly the gates' `Rule`
(`models.py` instantiates `Monitor[Rule]`) without this module importing `models`.
"""

from __future__ import annotations

import re
from typing import Generic, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, field_validator

R = TypeVar("R")

# Tests a column may ask for (see docs/monitoring.md for which one is chosen by default).
TestName = Literal["ks", "chi2", "wasserstein", "jensenshannon", "psi"]
Correction = Literal["holm", "bonferroni", "none"]
OnInsufficient = Literal["fail", "warn"]
DriftAction = Literal["issue", "fail"]

# 30m, 12h, 7d, 2w: the window of the prediction log `--since` and `since:` take.
DURATION = re.compile(r"^([1-9][0-9]{0,5})([mhdw])$")
_CRON_FIELD = re.compile(r"^[0-9*/,\-A-Za-z]+$")


_ISSUE: list[DriftAction] = ["issue"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True, defer_build=True)


class ColumnOverride(_Strict):
    """Per-column settings under `monitor.columns.<name>`."""

    # The test to use instead of the default for the column's type and sample size.
    test: TestName | None = None
    # p-value level (ks, chi2) or distance threshold (wasserstein, jensenshannon, psi).
    threshold: float | None = Field(default=None, gt=0, allow_inf_nan=False)
    # A drifted key column means dataset drift, whatever the share of drifted columns.
    key: bool = False
    # Leave the column out of every check (an id or timestamp column in the data).
    ignore: bool = False


class PerformanceRules(_Strict, Generic[R]):
    """Rules on the model's metrics on current data that carries the target."""

    # Same form as gates.rules; change rules compare with the metrics at registration.
    rules: list[R] = Field(min_length=1)


class Monitor(_Strict, Generic[R]):
    """`monitor:` in pipelines/<name>.yaml."""

    # "predictions": the environment's prediction log; else a CSV/parquet file or folder.
    data: str = Field(default="predictions", min_length=1)
    # How far back the prediction log is read (e.g. 24h, 7d); default: all of it.
    since: str | None = None
    # When mlops-monitor.yml runs (cron, UTC).
    schedule: str = "17 6 * * *"
    # The environments to watch; default: every one deploy.environments names.
    environments: list[str] | None = Field(default=None, min_length=1)
    # p-value tests (ks, chi2) flag a column below this level, after the correction.
    alpha: float = Field(default=0.05, gt=0, lt=1, allow_inf_nan=False)
    correction: Correction = "holm"
    # Distance tests (wasserstein, jensenshannon, psi) flag a column above this.
    threshold: float = Field(default=0.1, gt=0, allow_inf_nan=False)
    # Up to this many rows (the smaller of reference and current) use p-value tests.
    small_sample: int = Field(default=1000, ge=1)
    # Fewer current values than this in a column: "not enough data", never a pass.
    min_rows: int = Field(default=30, ge=1)
    # Dataset drift when at least this share of the feature columns drifted.
    drift_share: float = Field(default=0.5, gt=0, le=1, allow_inf_nan=False)
    # A column drifts when its share of missing values grows by more than this.
    max_missing_increase: float = Field(default=0.1, ge=0, le=1, allow_inf_nan=False)
    # Whether "not enough data" fails the check (exit 1) or is only reported.
    not_enough_data: OnInsufficient = "fail"
    # What mlops-monitor.yml does on drift: open or update an issue, fail the run.
    on_drift: list[DriftAction] = Field(default_factory=lambda: _ISSUE)
    columns: dict[str, ColumnOverride] = Field(default_factory=dict)
    performance: PerformanceRules[R] | None = None

    @field_validator("since")
    @classmethod
    def _duration(cls, value: str | None) -> str | None:
        if value is not None and not DURATION.match(value):
            raise ValueError(f"'{value}' is not a duration such as 30m, 24h, 7d or 2w")
        return value

    @field_validator("schedule")
    @classmethod
    def _cron(cls, value: str) -> str:
        fields = value.split()
        if len(fields) != 5 or not all(_CRON_FIELD.match(f) for f in fields):
            raise ValueError(
                f"'{value}' is not a cron schedule of five fields (minute hour day month weekday)"
            )
        return value


def duration_seconds(text: str) -> int:
    """Seconds in a duration such as 30m, 24h, 7d or 2w (already validated)."""
    match = DURATION.match(text)
    if match is None:
        raise ValueError(f"'{text}' is not a duration such as 30m, 24h, 7d or 2w")
    return int(match.group(1)) * {"m": 60, "h": 3600, "d": 86400, "w": 604800}[match.group(2)]
