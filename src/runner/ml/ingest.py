"""The `ingest` step: read a dataset into one parquet file."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from runner.config.step_options import IngestOptions
from runner.ml.datasets import SOURCE_PREFIX, load_dataset
from runner.ml.errors import StepError, column_hint, first_line
from runner.ml.files import write_parquet
from runner.ml.progress import progress

if TYPE_CHECKING:
    import pandas as pd


def run(options: IngestOptions, inputs: dict[str, Path], outputs: dict[str, Path]) -> None:
    """Load `options.source`, apply `options.rename` and write `outputs["data"]`."""
    frame = read_source(options.source)
    frame = rename_columns(frame, options.rename)
    progress("ingest", f"writing {len(frame)} rows x {len(frame.columns)} columns")
    write_parquet(outputs["data"], frame, {})


def read_source(source: str) -> pd.DataFrame:
    """Read `sklearn:<name>` or a cwd-relative `.csv` / `.parquet` file."""
    if source.startswith(SOURCE_PREFIX):
        name = source[len(SOURCE_PREFIX) :]
        progress("ingest", f"loading scikit-learn dataset {name}")
        return load_dataset(name)
    return _read_file(Path(source))


def source_columns(source: str, root: Path) -> list[str] | None:
    """The columns `read_source` would give, from the file's header only; None when the
    file is not in the work tree (e.g. tracked by DVC and not pulled)."""
    import pyarrow.parquet as pq

    if source.startswith(SOURCE_PREFIX):
        return [str(c) for c in load_dataset(source[len(SOURCE_PREFIX) :]).columns]
    path = root / source
    if not path.is_file():
        return None
    if path.suffix.lower() == ".parquet":
        schema = pq.read_schema(path)
        # pandas stores a RangeIndex in metadata only; any other index is a column too.
        return [name for name in schema.names if not name.startswith("__index_level_")]
    import pandas as pd

    return [str(c) for c in pd.read_csv(path, nrows=0).columns]


def _read_file(path: Path) -> pd.DataFrame:
    import pandas as pd
    import pyarrow as pa
    import pyarrow.parquet as pq

    suffix = path.suffix.lower()
    if suffix not in (".csv", ".parquet"):
        raise StepError(
            f"unsupported source format '{path.suffix}': {path}",
            hint=f"use a .csv or .parquet file, or {SOURCE_PREFIX}<name> for a bundled dataset",
        )
    if not path.is_file():
        raise StepError(
            f"source file not found: {path}",
            hint="check ingest.with.source; a path is relative to the repository root",
        )
    progress("ingest", f"reading {path}")
    try:
        frame = pd.read_csv(path) if suffix == ".csv" else pq.read_table(path).to_pandas()
    except (
        pd.errors.ParserError,
        pd.errors.EmptyDataError,
        UnicodeDecodeError,
        pa.ArrowException,
        OSError,
    ) as exc:
        raise StepError(
            f"cannot read {path}: {first_line(exc)}",
            hint="check that the file is a well-formed UTF-8 CSV or a parquet file",
        ) from exc
    # A parquet file written by pandas may carry a meaningful index; keep it as
    # a column, since every later step drops the index.
    if not isinstance(frame.index, pd.RangeIndex):
        frame = frame.reset_index()
    frame.columns = [str(c) for c in frame.columns]
    return frame


def rename_columns(frame: pd.DataFrame, rename: dict[str, str]) -> pd.DataFrame:
    """Apply `rename`, refusing unknown source columns and duplicate results."""
    columns = [str(c) for c in frame.columns]
    for old in rename:
        if old not in columns:
            raise StepError(
                f"rename: unknown column '{old}'",
                hint=column_hint(old, columns),
            )
    renamed = [rename.get(c, c) for c in columns]
    seen: set[str] = set()
    for name in renamed:
        if name in seen:
            raise StepError(
                f"rename: two columns would be named '{name}'",
                hint="give every column a distinct name in ingest.with.rename",
            )
        seen.add(name)
    # A new frame sharing the data (copy-on-write), not a copy of every column.
    return frame.set_axis(renamed, axis="columns")
