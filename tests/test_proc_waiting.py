"""`proc.start_module`: a process started ahead of time runs only when told to.

`mlops run` starts `dvc repro` this way while it opens and compiles the project;
whatever stops it first must leave the started process without effect.
"""

from __future__ import annotations

from pathlib import Path

from runner import proc

# Writes a file when it runs, so a test can tell whether it ran.
SCRIPT = "import pathlib, sys\npathlib.Path('ran.txt').write_text(' '.join(sys.argv[1:]))\n"


def test_runs_when_told(tmp_path: Path) -> None:
    (tmp_path / "marker.py").write_text(SCRIPT + "print('hello'); print('world')\n")
    waiting = proc.start_module("marker", ["a", "b"], cwd=tmp_path, preload=["json"],
                                env={"PYTHONPATH": str(tmp_path)})  # fmt: skip
    lines: list[str] = []
    assert waiting.stream(lines.append) == 0
    assert lines == ["hello", "world"]
    assert (tmp_path / "ran.txt").read_text() == "a b"
    waiting.cancel()  # after it ran: nothing happens


def test_cancelled_never_runs(tmp_path: Path) -> None:
    (tmp_path / "marker.py").write_text(SCRIPT)
    waiting = proc.start_module("marker", [], cwd=tmp_path, env={"PYTHONPATH": str(tmp_path)})
    waiting.cancel()
    assert not (tmp_path / "ran.txt").exists()


def test_exit_code_and_output_of_a_failure(tmp_path: Path) -> None:
    (tmp_path / "fails.py").write_text("import sys\nprint('why', file=sys.stderr)\nsys.exit(3)\n")
    waiting = proc.start_module("fails", [], cwd=tmp_path, env={"PYTHONPATH": str(tmp_path)})
    lines: list[str] = []
    assert waiting.stream(lines.append) == 3
    assert lines == ["why"]


def test_a_preload_that_fails_is_reported_when_run(tmp_path: Path) -> None:
    waiting = proc.start_module("json.tool", ["--help"], cwd=tmp_path, preload=["no_such_mod"])
    lines: list[str] = []
    assert waiting.stream(lines.append) == 1
    assert lines[-1] == "ModuleNotFoundError: No module named 'no_such_mod'"
