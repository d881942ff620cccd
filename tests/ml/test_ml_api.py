"""The run_step entry point and the promise that importing runner.ml stays light."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from runner.config.step_options import IngestOptions, SplitOptions
from runner.ml import StepError, run_step


def test_import_does_not_load_heavy_libraries() -> None:
    code = (
        "import sys, runner.ml; "
        "heavy = {'pandas', 'sklearn', 'skops', 'pyarrow', 'numpy'} & set(sys.modules); "
        "print(sorted(heavy))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout == "[]\n"


def test_step_error_fields() -> None:
    error = StepError("what went wrong", "what to do")
    assert (error.message, error.hint) == ("what went wrong", "what to do")
    assert str(error) == "what went wrong (hint: what to do)"


def test_unknown_step(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="unknown built-in step 'deploy'"):
        run_step("deploy", IngestOptions(source="sklearn:iris"), {}, {})


def test_wrong_options_type(tmp_path: Path) -> None:
    with pytest.raises(TypeError, match="step 'ingest' needs IngestOptions, got SplitOptions"):
        run_step("ingest", SplitOptions(target="y"), {}, {"data": tmp_path / "d.parquet"})


def test_wrong_output_names(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"step 'ingest' outputs must be \['data'\], got \['x'\]"):
        run_step("ingest", IngestOptions(source="sklearn:iris"), {}, {"x": tmp_path / "d"})
