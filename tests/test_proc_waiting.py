"""`proc.start_module`: a process started ahead of time runs only when told to.

`mlops run` starts DVC this way before it even parses its command line; what to
run and where is given only when it is told to go, and whatever stops `mlops run`
first must leave the started process without effect.
"""

from __future__ import annotations

import time
from pathlib import Path

from runner import proc
from runner.pipeline.status import report_of

# Writes a file (in the folder it runs in) when it runs, so a test can tell whether it ran.
SCRIPT = "import pathlib, sys\npathlib.Path('ran.txt').write_text(' '.join(sys.argv[1:]))\n"


def test_runs_when_told_with_the_arguments_and_folder_given_then(tmp_path: Path) -> None:
    (tmp_path / "marker.py").write_text(SCRIPT + "print('hello'); print('world')\n")
    elsewhere = tmp_path / "project"
    elsewhere.mkdir()
    waiting = proc.start_module("marker", cwd=tmp_path, preload=["json"],
                                env={"PYTHONPATH": str(tmp_path)})  # fmt: skip
    lines: list[str] = []
    assert waiting.stream(lines.append, ["a", "b c"], cwd=elsewhere) == 0
    assert lines == ["hello", "world"]
    assert (elsewhere / "ran.txt").read_text() == "a b c"
    assert not (tmp_path / "ran.txt").exists()
    waiting.cancel()  # after it ran: nothing happens


def test_cancelled_never_runs(tmp_path: Path) -> None:
    (tmp_path / "marker.py").write_text(SCRIPT)
    waiting = proc.start_module("marker", cwd=tmp_path, env={"PYTHONPATH": str(tmp_path)})
    waiting.cancel()
    assert not (tmp_path / "ran.txt").exists()


def test_cancel_does_not_wait_for_slow_imports(tmp_path: Path) -> None:
    # `mlops run --help` stops the DVC it started: it must not wait for its imports.
    (tmp_path / "slow.py").write_text("import time\ntime.sleep(30)\n")
    (tmp_path / "marker.py").write_text(SCRIPT)
    waiting = proc.start_module("marker", cwd=tmp_path, preload=["slow"],
                                env={"PYTHONPATH": str(tmp_path)})  # fmt: skip
    started = time.monotonic()
    waiting.cancel()
    assert time.monotonic() - started < 10  # not the 30 s the import sleeps
    assert not (tmp_path / "ran.txt").exists()


def test_exit_code_and_output_of_a_failure(tmp_path: Path) -> None:
    (tmp_path / "fails.py").write_text("import sys\nprint('why', file=sys.stderr)\nsys.exit(3)\n")
    waiting = proc.start_module("fails", cwd=tmp_path, env={"PYTHONPATH": str(tmp_path)})
    lines: list[str] = []
    assert waiting.stream(lines.append, [], cwd=tmp_path) == 3
    assert lines == ["why"]


def test_a_message_as_exit_code_is_printed_and_exits_1(tmp_path: Path) -> None:
    (tmp_path / "says.py").write_text("import sys\nsys.exit('stopped: no repository')\n")
    waiting = proc.start_module("says", cwd=tmp_path, env={"PYTHONPATH": str(tmp_path)})
    lines: list[str] = []
    assert waiting.stream(lines.append, [], cwd=tmp_path) == 1
    assert lines == ["stopped: no repository"]


def test_output_threads_and_atexit_finish_before_it_exits(tmp_path: Path) -> None:
    # It ends without tearing down the interpreter: what the module left to do at
    # exit (a thread to join, an atexit function, unflushed output) still happens.
    (tmp_path / "tail.py").write_text(
        "import atexit, pathlib, sys, threading, time\n"
        "def late():\n"
        "    time.sleep(0.2)\n"
        "    pathlib.Path('thread.txt').write_text('joined')\n"
        "threading.Thread(target=late).start()\n"
        "atexit.register(lambda: pathlib.Path('atexit.txt').write_text('ran'))\n"
        "sys.stdout.write('no newline at the end')\n"
    )
    waiting = proc.start_module("tail", cwd=tmp_path, env={"PYTHONPATH": str(tmp_path)})
    lines: list[str] = []
    assert waiting.stream(lines.append, [], cwd=tmp_path) == 0
    assert lines == ["no newline at the end"]
    assert (tmp_path / "thread.txt").read_text() == "joined"
    assert (tmp_path / "atexit.txt").read_text() == "ran"


def test_a_preload_that_fails_is_reported_when_run(tmp_path: Path) -> None:
    waiting = proc.start_module("json.tool", cwd=tmp_path, preload=["no_such_mod"])
    lines: list[str] = []
    assert waiting.stream(lines.append, ["--help"], cwd=tmp_path) == 1
    assert lines[-1] == "ModuleNotFoundError: No module named 'no_such_mod'"


def test_a_warm_module_that_is_missing_or_fails_is_skipped(tmp_path: Path) -> None:
    (tmp_path / "broken.py").write_text("raise RuntimeError('not today')\n")
    (tmp_path / "cache.py").write_text(
        "import pathlib\ndef fill():\n    pathlib.Path('filled.txt').write_text('yes')\n"
    )
    (tmp_path / "marker.py").write_text(SCRIPT)
    waiting = proc.start_module(
        "marker",
        cwd=tmp_path,
        warm=["no_such_mod", "broken", "cache:no_such_function", "cache:fill"],
        env={"PYTHONPATH": str(tmp_path)},
    )
    assert waiting.stream(lambda line: None, ["x"], cwd=tmp_path) == 0
    assert (tmp_path / "ran.txt").read_text() == "x"
    assert (tmp_path / "filled.txt").read_text() == "yes"


def test_the_status_report_is_the_last_object_line_of_the_merged_output() -> None:
    # A started DVC writes stdout and stderr to one pipe: warnings come first.
    merged = ["WARNING: a warning", '{"dvc.yaml:iris": ["changed deps"]}']
    assert report_of(merged) == {"dvc.yaml:iris": ["changed deps"]}
    assert report_of(["{}"]) == {}
    # No report, or one that is not a JSON object, is no answer (never "nothing changed").
    assert report_of(["ERROR: no JSON at all"]) is None
    assert report_of(["{not json"]) is None
    assert report_of([]) is None
