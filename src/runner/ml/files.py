"""Atomic, deterministic writing of step outputs and checked reading of inputs.

Every output goes to a temporary sibling first and is moved into place with
`os.replace` (`runner.fsutil`), so an interrupted step never leaves a
half-written file that DVC could mistake for a finished output. Files and
folders get the modes the umask allows, as any other tool's outputs.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from runner.fsutil import make_temp_dir, write_atomic
from runner.ml.errors import StepError, first_line

if TYPE_CHECKING:
    import pandas as pd


def write_bytes(path: Path, data: bytes) -> None:
    """Write `data` to `path` atomically, creating parent directories."""
    write_atomic(path, data)


def dumps_json(value: Any) -> str:
    """Serialise `value` the one way outputs are written: sorted, indented, final newline."""
    return json.dumps(value, sort_keys=True, indent=2, ensure_ascii=False, allow_nan=False) + "\n"


def write_json(path: Path, value: Any) -> None:
    """Write `value` as deterministic JSON to `path` atomically."""
    write_bytes(path, dumps_json(value).encode("utf-8"))


@contextmanager
def replace_dir(path: Path) -> Iterator[Path]:
    """Yield an empty temporary directory that replaces `path` when the block succeeds.

    A directory output is filled completely before it becomes visible, and
    files left from an earlier run never survive into the new one.
    """
    tmp = make_temp_dir(path.parent, f".{path.name}.")
    try:
        yield tmp
        old: Path | None = None
        if path.is_dir() and not path.is_symlink():
            old = Path(tempfile.mkdtemp(dir=path.parent, prefix=f".{path.name}.", suffix=".old"))
            os.replace(path, old / path.name)
        elif path.exists() or path.is_symlink():
            path.unlink()
        os.replace(tmp, path)
        if old is not None:
            shutil.rmtree(old)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def require_file(path: Path, role: str) -> Path:
    """Return `path` if it is an existing file, else raise a StepError naming `role`."""
    if not path.is_file():
        what = "a directory" if path.is_dir() else "missing"
        raise StepError(
            f"input '{role}' is {what}: {path}",
            hint="run the stage that produces it first (dvc repro), or fix the path",
        )
    return path


def require_dir(path: Path, role: str) -> Path:
    """Return `path` if it is an existing directory, else raise a StepError naming `role`."""
    if not path.is_dir():
        what = "not a directory" if path.exists() else "missing"
        raise StepError(
            f"input '{role}' is {what}: {path}",
            hint="run the stage that produces it first (dvc repro), or fix the path",
        )
    return path


def read_parquet(path: Path, role: str) -> tuple[pd.DataFrame, dict[str, str]]:
    """Read a parquet input; return the frame and its schema metadata as text."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    require_file(path, role)
    try:
        table = pq.read_table(path)
    except (pa.ArrowException, OSError) as exc:
        raise StepError(
            f"input '{role}' is not a readable parquet file: {path} ({first_line(exc)})",
            hint="re-run the stage that produces it (dvc repro)",
        ) from exc
    raw = table.schema.metadata or {}
    metadata = {k.decode("utf-8"): v.decode("utf-8") for k, v in raw.items()}
    return table.to_pandas(), metadata


def write_parquet(path: Path, frame: pd.DataFrame, metadata: dict[str, str]) -> None:
    """Write `frame` (without its index) to parquet, adding `metadata` to the schema."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.Table.from_pandas(frame, preserve_index=False)
    merged = dict(table.schema.metadata or {})
    for key in sorted(metadata):
        merged[key.encode("utf-8")] = metadata[key].encode("utf-8")
    table = table.replace_schema_metadata(merged)
    sink = pa.BufferOutputStream()
    # Dictionary encoding only where values repeat (text, categories, booleans): on
    # float columns it is tried, abandoned and costs ~5x the whole write (measured in
    # benchmarks/stage_overhead.py --parquet). Snappy and the default row groups cost
    # next to nothing and keep the files readable by every tool.
    pq.write_table(table, sink, use_dictionary=dictionary_columns(table))
    write_bytes(path, sink.getvalue().to_pybytes())


def dictionary_columns(table: Any) -> list[str]:
    """The columns of an Arrow table worth dictionary-encoding: all but numbers and times."""
    import pyarrow.types as pat

    plain = (pat.is_integer, pat.is_floating, pat.is_decimal, pat.is_temporal)
    return [f.name for f in table.schema if not any(check(f.type) for check in plain)]
