"""The current data: a CSV or parquet file, or the prediction log `mlops serve` writes.

Read with pyarrow into columns (no pandas): numbers stay Arrow arrays until a test
needs them as numpy, and categories are counted by Arrow itself, so a million rows
cost seconds, not minutes.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from runner.config.reference import Reference
from runner.errors import CheckFailed, UsageError

# The column of a data file that holds the model's predictions (as `mlops predict` writes).
PREDICTION_COLUMN = "prediction"
# The output of the prediction log that holds the predictions.
PREDICT_OUTPUT = "predict"
SUFFIXES = (".csv", ".parquet")


@dataclass(frozen=True)
class Current:
    """The rows to check, column by column (pyarrow ChunkedArrays)."""

    source: str
    rows: int
    columns: Mapping[str, Any]
    predictions: Any | None = None
    skipped_rows: int = 0  # prediction log rows another version answered
    notes: list[str] = field(default_factory=list)


class ParquetColumns(Mapping[str, Any]):
    """The columns of one parquet file, each read when asked for and not kept: a million
    rows by 50 columns then never sit in memory at once."""

    def __init__(self, path: Path, names: list[str]) -> None:
        self.path = path
        self.names = names

    def __getitem__(self, name: str) -> Any:
        import pyarrow.parquet as pq

        if name not in self.names:
            raise KeyError(name)
        return pq.ParquetFile(self.path).read(columns=[name]).column(0)

    def __contains__(self, name: object) -> bool:
        return name in self.names  # without reading the column, as Mapping's would

    def __iter__(self) -> Iterator[str]:
        return iter(self.names)

    def __len__(self) -> int:
        return len(self.names)


def read_file(path: Path) -> Current:
    """A CSV or parquet file (or a folder of parquet files)."""
    if path.is_file() and path.suffix == ".parquet":
        import pyarrow as pa
        import pyarrow.parquet as pq

        try:
            meta = pq.ParquetFile(path)
        except (pa.ArrowException, OSError) as exc:
            raise CheckFailed(
                f"{path}: cannot read it ({type(exc).__name__}: {str(exc).splitlines()[0]})",
                "check that the file is a valid parquet file",
            ) from None
        names = [str(n) for n in meta.schema_arrow.names]
        features = ParquetColumns(path, [n for n in names if n != PREDICTION_COLUMN])
        predictions = (
            ParquetColumns(path, [PREDICTION_COLUMN])[PREDICTION_COLUMN]
            if PREDICTION_COLUMN in names
            else None
        )
        return Current(str(path), meta.metadata.num_rows, features, predictions)
    table = _read_table(path)
    columns = {str(name): table.column(name) for name in table.column_names}
    predictions = columns.pop(PREDICTION_COLUMN, None)
    return Current(str(path), table.num_rows, columns, predictions)


def _read_table(path: Path) -> Any:
    import pyarrow as pa
    import pyarrow.csv as pcsv
    import pyarrow.parquet as pq

    if not path.exists():
        raise UsageError(f"{path}: no such file or folder", "give the data to check with --data")
    if path.is_file() and path.suffix not in SUFFIXES:
        raise UsageError(f"{path}: not a .csv or .parquet file", "name files *.csv or *.parquet")
    try:
        if path.suffix == ".csv":
            return pcsv.read_csv(path)
        # File by file: pq.read_table goes through pyarrow.dataset, which imports pandas.
        files = sorted(p for p in path.glob("*.parquet")) if path.is_dir() else [path]
        tables = [pq.ParquetFile(f).read() for f in files if not f.name.startswith(".")]
        if not tables:
            raise UsageError(f"{path}: no parquet files in it", "give a file or a folder of them")
        return pa.concat_tables(tables, promote_options="permissive")
    except (pa.ArrowException, OSError) as exc:
        raise CheckFailed(
            f"{path}: cannot read it ({type(exc).__name__}: {str(exc).splitlines()[0]})",
            "check that the file is a valid CSV or parquet file",
        ) from None


def read_log(
    folder: Path, reference: Reference, version: str, since: timedelta | None, now: datetime
) -> Current:
    """The rows of the prediction log in `folder` answered by `version` within `since`."""
    import pyarrow.compute as pc

    window = f" since {(now - since).isoformat(timespec='seconds')}" if since else ""
    source = f"prediction log {folder}{window}"
    if not folder.is_dir() or not any(folder.glob("*.parquet")):
        raise CheckFailed(
            f"no prediction log at {folder}",
            "serve the environment with `mlops serve --env ENV` (it logs what it answers), "
            "or give a file with --data",
        )
    table = _read_table(folder)
    if since is not None:
        table = table.filter(pc.greater_equal(table.column("time"), now - since))
    total = table.num_rows
    table = table.filter(pc.equal(table.column("version"), version))
    skipped = total - table.num_rows
    columns = _json_columns(table.column("inputs"), reference)
    outputs = [json.loads(text) for text in table.column("outputs").to_pylist()]
    predictions = _array([o.get(PREDICT_OUTPUT) for o in outputs])
    notes = []
    if skipped:
        notes.append(f"{skipped} logged rows were answered by other versions and are left out")
    return Current(source, table.num_rows, columns, predictions, skipped, notes)


def _json_columns(inputs: Any, reference: Reference) -> dict[str, Any]:
    """The log's `inputs` (one JSON object per row) as one array per feature."""
    import pyarrow as pa
    import pyarrow.json as pjson

    if len(inputs) == 0:
        return {name: pa.chunked_array([], pa.null()) for name in reference.columns}
    schema = pa.schema(
        [
            (name, pa.float64() if stats.kind == "numeric" else pa.string())
            for name, stats in reference.columns.items()
        ]
    )
    text = "\n".join(inputs.to_pylist()).encode("utf-8")
    try:
        table = pjson.read_json(
            io.BytesIO(text),
            parse_options=pjson.ParseOptions(
                explicit_schema=schema, unexpected_field_behavior="infer"
            ),
        )
        return {str(n): table.column(n) for n in table.column_names}
    except pa.ArrowException:
        # Values of a type the schema did not expect: take them as they are.
        rows = [json.loads(line) for line in inputs.to_pylist()]
        names = sorted({k for row in rows for k in row})
        return {name: _array([row.get(name) for row in rows]) for name in names}


def _array(values: list[Any]) -> Any:
    """A ChunkedArray of plain values; mixed types become strings."""
    import pyarrow as pa

    try:
        return pa.chunked_array([pa.array(values)])
    except (pa.ArrowException, TypeError):
        return pa.chunked_array([pa.array([None if v is None else str(v) for v in values])])
