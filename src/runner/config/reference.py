"""The reference record: what drift tests need about a model's training data.

Training writes it beside the model (`reference.json`, by `ml.reference`) and
`mlops monitor` reads it back through `parse`, so monitoring never loads the
training data. Its shape is stated here once, with the one binning convention
both sides use (`bin_counts`).
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Annotated, Literal, Union

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from runner.errors import CheckFailed

if TYPE_CHECKING:
    import numpy as np

REFERENCE_FILE = "reference.json"
SCHEMA: Literal[1] = 1
# Values of a numeric column kept for the two-sample tests (KS, Wasserstein): all of
# them when the training data has fewer, else a seeded random subset.
SAMPLE_SIZE = 5000
# Equal-frequency bins of a numeric column, for Jensen-Shannon and PSI.
BINS = 20

_RECORD = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class NumericStats(BaseModel):
    """A numeric column: counts, moments, equal-frequency bins and a sorted sample."""

    model_config = _RECORD

    kind: Literal["numeric"] = "numeric"
    dtype: str
    rows: int
    missing: int
    # Finite values present (rows - missing - infinite).
    count: int
    infinite: int = 0
    min: float | None = None
    max: float | None = None
    mean: float | None = None
    std: float | None = None
    # Inner bin edges: bin i holds edges[i-1] < x <= edges[i] (see `bin_counts`).
    edges: list[float] = Field(default_factory=list)
    counts: list[int] = Field(default_factory=list)
    sample: list[float] = Field(default_factory=list)

    @property
    def constant(self) -> bool:
        return self.count > 0 and self.min == self.max


class CategoricalStats(BaseModel):
    """A categorical column: counts and the frequency of every value."""

    model_config = _RECORD

    kind: Literal["categorical"] = "categorical"
    dtype: str
    rows: int
    missing: int
    count: int
    values: dict[str, int]

    @property
    def constant(self) -> bool:
        return len(self.values) == 1


ColumnStats = Annotated[Union[NumericStats, CategoricalStats], Field(discriminator="kind")]  # noqa: UP007


class Reference(BaseModel):
    """Everything `reference.json` holds."""

    model_config = _RECORD

    schema_version: Literal[1] = Field(default=SCHEMA, alias="schema")
    task: str
    target: str
    rows: int
    # The model's features, in the order it takes them.
    columns: dict[str, ColumnStats]
    target_stats: ColumnStats
    # The model's predictions on `predictions_on` (the training split: the test split
    # is not an input of the train step).
    prediction: ColumnStats
    predictions_on: str = "train"


def serialise(reference: Reference) -> str:
    """The text of `reference.json`: indented JSON and a final newline, columns in the
    model's order (fields in their declared order, so the same data gives the same bytes)."""
    data = reference.model_dump(mode="json", by_alias=True)
    return json.dumps(data, indent=2) + "\n"


def parse(text: str | bytes, where: str) -> Reference:
    """The record in `text`; CheckFailed naming `where` when it is not one."""
    hint = "train the model again with this mlops-runner (`mlops run`), then register it"
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise CheckFailed(f"{where}: not valid JSON ({exc})", hint) from None
    if isinstance(data, dict) and isinstance(data.get("schema"), int) and data["schema"] > SCHEMA:
        raise CheckFailed(
            f"{where}: schema {data['schema']} is newer than this mlops-runner reads ({SCHEMA})",
            "upgrade mlops-runner",
        )
    try:
        return Reference.model_validate(data)
    except ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        loc = ".".join(str(p) for p in first["loc"]) or "record"
        raise CheckFailed(
            f"{where}: invalid reference record: {loc}: {first['msg']}", hint
        ) from None


def bin_counts(edges: list[float] | np.ndarray, values: np.ndarray) -> np.ndarray:
    """How many of `values` fall in each bin of `edges` (len(edges) + 1 bins, open ends)."""
    import numpy as np

    index = np.searchsorted(np.asarray(edges, dtype="float64"), values, side="left")
    return np.bincount(index, minlength=len(edges) + 1)


def equal_frequency_edges(values: np.ndarray, bins: int = BINS) -> list[float]:
    """Inner edges that split sorted finite `values` into about `bins` equally full bins."""
    import numpy as np

    if len(values) == 0:
        return []
    inner = np.quantile(values, np.linspace(0.0, 1.0, bins + 1)[1:-1])
    return [float(e) for e in np.unique(inner)]
