"""Inputs that used to end in "internal error" (exit 3) get a clear message and exit 2."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from runner.cli import main


def _first_error(capsys: pytest.CaptureFixture[str]) -> list[str]:
    err = capsys.readouterr().err
    assert "Traceback" not in err and "internal error" not in err
    return err.splitlines()[:2]


def test_deployments_as_a_fifo(example: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (example / "deployments.yaml").unlink()
    os.mkfifo(example / "deployments.yaml")
    assert main(["validate"]) == 2
    assert _first_error(capsys) == [
        "deployments.yaml: error: not a regular file (a FIFO)",
        "  hint: replace deployments.yaml with a plain YAML file",
    ]


def test_project_name_over_name_max(example: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", "--project", "a" * 300]) == 2
    assert _first_error(capsys) == [
        f"error: --project: cannot open {'a' * 80!r}: File name too long",
        "  hint: pass the folder that holds mlops.yaml",
    ]


def test_gate_json_to_a_folder(example: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["gate", "iris", "--json", "."]) == 2
    assert _first_error(capsys) == [
        "error: --json .: is a folder, not a file",
        "  hint: name a file: --json gate.json",
    ]


def test_init_where_nothing_can_be_created(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["init", "/proc/x"]) == 2
    assert _first_error(capsys) == [
        "error: cannot create the example project in /proc/x: No such file or directory",
        "  hint: choose a folder you can write to",
    ]


def test_init_name_over_name_max(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["init", str(tmp_path / ("a" * 300))]) == 2
    assert _first_error(capsys)[0].endswith(": File name too long")
