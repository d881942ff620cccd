"""Each broken input exits 2 with its exact message, a hint, no traceback, and writes nothing."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from runner.cli import main

from broken_cases import CASES
from conftest import build_tree, snapshot


def _apply(root: Path, file: str, old: str | None, new: str | bytes) -> None:
    path = root / file
    if old is None:
        path.write_bytes(new if isinstance(new, bytes) else new.encode("utf-8"))
        return
    text = path.read_text("utf-8")
    assert old in text, f"case does not apply: {old!r} not in {file}"
    assert isinstance(new, str)
    path.write_text(text.replace(old, new, 1), "utf-8")


def test_table_is_large_and_ids_unique() -> None:
    ids = [case[0] for case in CASES]
    assert len(ids) >= 40
    assert len(set(ids)) == len(ids)


@pytest.mark.parametrize(
    ("file", "old", "new", "expected"),
    [pytest.param(*case[1:], id=case[0]) for case in CASES],
)
def test_broken_input(
    example: Path,
    capsys: pytest.CaptureFixture[str],
    file: str,
    old: str | None,
    new: str | bytes,
    expected: str,
) -> None:
    _apply(example, file, old, new)
    before = snapshot(example)
    assert main(["validate"]) == 2
    err = capsys.readouterr().err
    lines = err.splitlines()
    assert lines[0] == expected
    assert "Traceback" not in err
    # Every problem carries a hint; the source line is shown when there is one.
    blocks = err.split(": error: ")[1:]
    assert blocks and all("  hint: " in block for block in blocks)
    assert snapshot(example) == before


def test_every_problem_is_reported_in_one_run(
    example: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _apply(example, "mlops.yaml", "default: local", "default: locl")
    _apply(example, "pipelines/iris.yaml", "description: Classify iris species", "description: no")
    _apply(example, "pipelines/iris.yaml", "min: 0.90", 'min: "0.9"')
    assert main(["validate"]) == 2
    err = capsys.readouterr().err
    assert err.count(": error: ") == 3
    assert err.splitlines()[-1] == "3 problems in 2 file(s)"


def test_symlink_out_of_the_project(example: Path, tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (example / "data").symlink_to(outside)
    _apply(
        example,
        "pipelines/iris.yaml",
        '"sklearn:iris"',
        '"data/iris.csv"',
    )
    proc = _run(example, "validate")
    assert proc.returncode == 2
    assert proc.stderr.splitlines()[0] == (
        "pipelines/iris.yaml:10:20: error: stages.ingest.with.source: path 'data/iris.csv' "
        "leaves the project folder through a symlink"
    )


def test_yml_suffix_is_refused(example: Path, capsys: pytest.CaptureFixture[str]) -> None:
    build_tree(example, {"pipelines/extra.yml": "description: x\n"})
    assert main(["validate"]) == 2
    assert capsys.readouterr().err.splitlines()[:2] == [
        "pipelines/extra.yml: error: pipeline files must end in .yaml",
        "  hint: rename it: git mv pipelines/extra.yml pipelines/extra.yaml",
    ]


def test_unsafe_pipeline_file_name(example: Path, capsys: pytest.CaptureFixture[str]) -> None:
    text = (example / "pipelines/iris.yaml").read_text()
    (example / "pipelines/iris.yaml").unlink()
    (example / "pipelines/Iris Demo.yaml").write_text(text)
    (example / "deployments.yaml").write_text("staging: {}\n")
    assert main(["validate"]) == 2
    assert capsys.readouterr().err.splitlines()[0] == (
        "pipelines/Iris Demo.yaml: error: pipeline name 'Iris Demo' (from the file name) "
        "is not a safe name"
    )


def test_one_model_deployed_by_two_pipelines(
    example: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text = (example / "pipelines/iris.yaml").read_text()
    (example / "pipelines/iris2.yaml").write_text(text)
    assert main(["validate"]) == 2
    assert capsys.readouterr().err.splitlines()[0] == (
        "pipelines/iris2.yaml:29:10: error: deploy.model: model 'iris-classifier' is already "
        "deployed by pipeline 'iris'"
    )


def test_cross_pipeline_output_clash(example: Path, capsys: pytest.CaptureFixture[str]) -> None:
    build_tree(
        example,
        {
            "pipelines/report.yaml": (
                "stages:\n  copy:\n    cmd: cp a b\n    outs: [outputs/iris/evaluate]\n"
            )
        },
    )
    assert main(["validate"]) == 2
    assert capsys.readouterr().err.splitlines()[0] == (
        "pipelines/report.yaml:2:3: error: stages.copy: writes an overlapping path "
        "'outputs/iris/evaluate' (and 'outputs/iris/evaluate/metrics.json'), already written "
        "by iris:evaluate"
    )


def test_no_project_found(tmp_path: Path) -> None:
    proc = _run(tmp_path, "validate")
    assert proc.returncode == 2
    assert proc.stderr.startswith(f"error: no mlops.yaml in {tmp_path.resolve()}")
    assert "hint: run `mlops init`" in proc.stderr


def test_broken_file_through_the_real_console_script(example: Path) -> None:
    _apply(example, "pipelines/iris.yaml", "  seed: 42", "  seed: &s 42")
    proc = _run(example, "validate")
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert proc.stderr.startswith("pipelines/iris.yaml:4:9: error: anchor '&s' is not allowed")
    # --traceback is the way to get one.
    proc = _run(example, "validate", "--traceback")
    assert "Traceback" in proc.stderr


def test_github_and_json_formats(example: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _apply(example, "pipelines/iris.yaml", "min: 0.90", 'min: "0.9"')
    assert main(["validate", "--format", "github"]) == 2
    out = capsys.readouterr().out
    assert out == (
        "::error file=pipelines/iris.yaml,line=26,col=31,title=mlops::gates.rules[0].min: "
        "expected a number, got the string '0.9'%0A%0Ahint: remove the quotes\n"
    )
    assert main(["validate", "--format", "json"]) == 2
    import json

    assert json.loads(capsys.readouterr().out) == [
        {
            "file": "pipelines/iris.yaml",
            "line": 26,
            "col": 31,
            "severity": "error",
            "message": "gates.rules[0].min: expected a number, got the string '0.9'",
            "hint": "remove the quotes",
        }
    ]


def _run(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "runner", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        env={**os.environ},
        check=False,
    )


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        ('"a\\nb"', "'a\\nb' (spaces or shell syntax)"),
        ('"x; touch PWNED"', "'x; touch PWNED' (spaces or shell syntax)"),
        ('"$(id)"', "'$(id)' (spaces or shell syntax)"),
    ],
)
def test_unsafe_value_on_a_command_line(
    example: Path, capsys: pytest.CaptureFixture[str], value: str, shown: str
) -> None:
    _apply(example, "pipelines/iris.yaml", "  seed: 42", f"  seed: 42\n  msg: {value}")
    _apply(example, "pipelines/iris.yaml", "gates:", "  shout:\n    cmd: echo ${msg}\ngates:")
    assert main(["validate"]) == 2
    lines = capsys.readouterr().err.splitlines()
    assert [lines[0], lines[3]] == [
        f"pipelines/iris.yaml:24:10: error: stages.shout.cmd: ${{msg}} is {shown}, "
        "which DVC would put on the command line unquoted",
        "  hint: list msg under params: and have the command read it from params.yaml",
    ]


def test_reference_in_a_path(example: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # Paths may use params (DVC fills them in); a reference to nothing is refused.
    _apply(
        example,
        "pipelines/iris.yaml",
        "gates:",
        "  shout:\n    cmd: echo hi\n    deps:\n      - data/${seed}.csv\n"
        "    outs:\n      - out/${sead}.txt\ngates:",
    )
    assert main(["validate"]) == 2
    lines = capsys.readouterr().err.splitlines()
    errors = [line for line in lines if ": error: " in line]
    assert errors == [
        "pipelines/iris.yaml:27:9: error: stages.shout.outs[0]: path 'out/${sead}.txt' "
        "holds a ${...} that names no param, inline var or loop value",
    ]
    assert (
        "  hint: paths may use this pipeline's params:, values under vars:, and ${item}/${key} "
        "in a loop; a vars: file is read only by DVC"
    ) in lines
