"""`mlops predict`: score a CSV or parquet file with an environment's model, in batch."""

from __future__ import annotations

import io
import sys
from pathlib import Path
from typing import Any

from runner.errors import CheckFailed, UsageError
from runner.fsutil import write_atomic

FORMATS = (".csv", ".parquet")


def run(
    *,
    env: str | None,
    model_dir: str | None,
    model: str | None,
    input: str,
    output: str,
    proba: bool,
    project_dir: str | None,
) -> int:
    for path in (input, output):
        if Path(path).suffix not in FORMATS:
            raise UsageError(
                f"{path}: not a .csv or .parquet file", "name files *.csv or *.parquet"
            )
    if (env is None) == (model_dir is None):
        raise UsageError(
            "give exactly one of --env or --model-dir",
            "mlops predict --env staging --input in.csv --output out.csv",
        )
    loaded = _load(env, model_dir, model, project_dir)
    if proba and loaded.task != "classification":
        raise UsageError(
            "--proba is only for classifiers", f"{loaded.name} is a {loaded.task} model"
        )
    frame = _read(Path(input))
    from runner.serve.inputs import InputError, check_frame

    try:
        features = check_frame(frame, loaded.features)
    except InputError as exc:
        raise CheckFailed(
            f"{input}: {exc}",
            "fix the input file; the model takes: " + ", ".join(loaded.feature_names),
        ) from None
    out = frame.copy()
    out["prediction"] = loaded.predict(features)
    if proba:
        for j, cls in enumerate(loaded.classes):
            out[f"proba_{cls}"] = loaded.predict_proba(features)[:, j]
    _write(out, Path(output))
    sys.stdout.write(f"predicted {len(out)} rows with {loaded.name} {loaded.version} -> {output}\n")
    return 0


def _load(env: str | None, model_dir: str | None, model: str | None, project: str | None) -> Any:
    if model_dir is not None:
        from runner.serve.loader import load_dir

        return load_dir(Path(model_dir), name=model or "")
    from runner.layout import project_root
    from runner.project.workspace import open_workspace
    from runner.serve.resolve import load_served

    assert env is not None
    return load_served(open_workspace(project_root(project)), env, model)


def _read(path: Path) -> Any:
    import pandas as pd

    if not path.is_file():
        raise UsageError(f"{path}: no such file", "give the file to score with --input")
    try:
        if path.suffix == ".csv":
            return pd.read_csv(path)
        return pd.read_parquet(path)
    except Exception as exc:  # pandas and pyarrow raise many kinds
        raise CheckFailed(
            f"{path}: cannot read it ({type(exc).__name__}: {exc})",
            "check that the file is a valid CSV or parquet file",
        ) from None


def _write(frame: Any, path: Path) -> None:
    if path.suffix == ".csv":
        write_atomic(path, frame.to_csv(index=False))
    else:
        buf = io.BytesIO()
        frame.to_parquet(buf, index=False)
        write_atomic(path, buf.getvalue())
