"""What lies in pipelines/: every YAML-looking entry is a pipeline or a problem, never skipped."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from runner.cli import main


def _errors(capsys: pytest.CaptureFixture[str]) -> list[str]:
    err = capsys.readouterr().err
    assert "Traceback" not in err
    return [line for line in err.splitlines() if ": error: " in line]


@pytest.mark.parametrize(
    ("make", "expected"),
    [
        (
            lambda p: (p / "extra.YAML").write_text("description: x\n"),
            "pipelines/extra.YAML: error: pipeline files must end in .yaml",
        ),
        (
            lambda p: (p / "iris.yaml~").write_text("description: x\n"),
            "pipelines/iris.yaml~: error: not a pipeline file: pipeline files end in .yaml",
        ),
        (
            lambda p: (p / "dir.yaml").mkdir(),
            "pipelines/dir.yaml: error: not a file",
        ),
        (
            lambda p: (p / "gone.yaml").symlink_to("nothing.yaml"),
            "pipelines/gone.yaml: error: a symlink to nothing",
        ),
    ],
    ids=["upper-suffix", "backup", "folder", "dangling-link"],
)
def test_entry_is_refused(
    example: Path, capsys: pytest.CaptureFixture[str], make: object, expected: str
) -> None:
    make(example / "pipelines")  # type: ignore[operator]
    assert main(["validate"]) == 2
    assert _errors(capsys) == [expected]


def test_link_out_of_the_project(
    example: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    outside = tmp_path / "outside.yaml"
    shutil.move(example / "pipelines/iris.yaml", outside)
    (example / "pipelines/iris.yaml").symlink_to(outside)
    assert main(["validate"]) == 2
    assert _errors(capsys)[0] == (
        "pipelines/iris.yaml: error: a symlink to a file outside the project"
    )


def test_link_inside_the_project_is_read(example: Path, capsys: pytest.CaptureFixture[str]) -> None:
    os.rename(example / "pipelines/iris.yaml", example / "iris-source.yaml")
    (example / "pipelines/iris.yaml").symlink_to("../iris-source.yaml")
    assert main(["validate"]) == 0


def test_other_files_are_ignored(example: Path) -> None:
    (example / "pipelines/README.md").write_text("notes\n")
    (example / "pipelines/.iris.yaml.swp").write_text("")
    assert main(["validate"]) == 0


def test_missing_pipelines_folder(example: Path, capsys: pytest.CaptureFixture[str]) -> None:
    shutil.rmtree(example / "pipelines")
    (example / "deployments.yaml").write_text("{}\n")
    assert main(["validate"]) == 2
    assert capsys.readouterr().err.splitlines()[:2] == [
        "pipelines/: error: no pipelines/ folder: the project has no pipelines",
        "  hint: add one as pipelines/<name>.yaml (`mlops init` writes an example)",
    ]
