"""A command that fails (git, DVC) is reported in one line that names its cause, with
the end of what it printed shown under it, never as one line of escaped newlines."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from runner import proc
from runner.cli import _report
from runner.errors import EXIT_CHECK_FAILED, ExternalCommandError


def _fail(tmp_path: Path, script: str) -> ExternalCommandError:
    with pytest.raises(ExternalCommandError) as caught:
        proc.run([sys.executable, "-c", script], cwd=tmp_path)
    return caught.value


def test_the_cause_is_the_last_error_line_and_the_output_is_kept(tmp_path: Path) -> None:
    error = _fail(
        tmp_path,
        "import sys\n"
        "print('pushing 3 files')\n"
        "sys.stderr.write('WARNING: slow remote\\n')\n"
        "sys.stderr.write('ERROR: failed to push - no remote. Create one with\\n')\n"
        "sys.stderr.write('    dvc remote add -d <name> <url>\\n')\n"
        "sys.exit(3)\n",
    )
    assert error.message.startswith(f"`{sys.executable} -c import sys")
    assert error.message.endswith(
        "` exited with 3: ERROR: failed to push - no remote. Create one with"
    )
    assert error.hint == "the end of its output is shown below"
    assert error.output.splitlines() == [
        "pushing 3 files",
        "WARNING: slow remote",
        "ERROR: failed to push - no remote. Create one with",
        "    dvc remote add -d <name> <url>",
    ]


def test_without_an_error_line_the_cause_is_the_last_line(tmp_path: Path) -> None:
    error = _fail(tmp_path, "import sys\nprint('one')\nprint('two')\nsys.exit(2)\n")
    assert error.message.endswith("` exited with 2: two")


def test_a_command_that_printed_nothing(tmp_path: Path) -> None:
    error = _fail(tmp_path, "import sys\nsys.exit(4)\n")
    assert error.message.endswith("` exited with 4")
    assert error.hint == "it printed nothing"
    assert error.output == ""


def test_only_the_last_twenty_lines_are_kept(tmp_path: Path) -> None:
    error = _fail(tmp_path, "import sys\nfor i in range(50): print(i)\nsys.exit(1)\n")
    assert error.output.splitlines() == [str(i) for i in range(30, 50)]


def test_the_output_is_shown_under_the_error_escaped_line_by_line(
    capsys: pytest.CaptureFixture[str],
) -> None:
    error = ExternalCommandError(
        "`git push origin m@v1.0.0` exited with 1: fatal: could not read from remote",
        "the end of its output is shown below",
        output="\x1b[31mfatal: could not read from remote\x1b[0m\nPlease check access",
    )
    assert _report(error, "text", show_traceback=False) == EXIT_CHECK_FAILED
    assert capsys.readouterr().err == (
        "error: `git push origin m@v1.0.0` exited with 1: fatal: could not read from remote\n"
        "  hint: the end of its output is shown below\n"
        "  | \\x1b[31mfatal: could not read from remote\\x1b[0m\n"
        "  | Please check access\n"
    )
