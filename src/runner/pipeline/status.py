"""What `dvc status` calls changed: after a run (a run that reports success must leave
nothing behind, and this is how `mlops run` checks it), and before `mlops gate` and
`mlops register` trust the metrics and the model on disk.

Each starts its `dvc status` ahead of time, so that DVC imports itself (most of a
`dvc status`) while mlops does its own work: `mlops run` when its first stage starts
(`StatusCheck.prepare`), gate and register before their command line is even parsed
(`start_early`, their `Verb.early`).
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from runner import proc
from runner.errors import ExternalCommandError
from runner.pipeline.repro import DVC_PRELOAD, DVC_WARM, display_name


class StatusCheck:
    """The `dvc status` that `mlops run` asks after a run that ran or restored stages.

    `prepare` starts it as soon as the first stage starts, so that its imports are
    done by the time the run is; `changed` runs it then (or starts one, unprepared).
    """

    def __init__(self) -> None:
        self._waiting: proc.Waiting | None = None

    def prepare(self) -> None:
        if self._waiting is None:
            self._waiting = _start()

    def cancel(self) -> None:
        if self._waiting is not None:
            self._waiting.cancel()

    def changed(self, root: Path, targets: Sequence[str]) -> list[str]:
        """Stages (`iris:train`) that `dvc status` lists as changed, `always_changed`
        ones aside."""
        # With targets (chosen pipelines' root stages), their upstream stages count too.
        args = ["status", "--json", *(["--with-deps"] if targets else []), *targets]
        if self._waiting is None:
            lines = proc.run(proc.dvc_cmd(*args), cwd=root).stdout.splitlines()
        else:
            lines = []
            code = self._waiting.stream(lines.append, args, cwd=root)
            if code != 0:
                raise proc.command_error(f"dvc {' '.join(args)}", code, "\n".join(lines))
        report = report_of(lines)
        if report is None:  # an answer we cannot read is not "nothing changed"
            raise ExternalCommandError(
                f"`dvc {' '.join(args)}` printed no JSON report of what changed",
                "the end of its output is shown below",
                output="\n".join(lines[-20:]),
            )
        return _changed(report)


def _start() -> proc.Waiting:
    return proc.start_module("dvc", cwd=Path.cwd(), preload=DVC_PRELOAD, warm=DVC_WARM)


# The `dvc status` that `start_early` starts for this process's gate or register.
_EARLY = proc.EarlyStart(_start)


def start_early() -> contextlib.AbstractContextManager[None]:
    """`Verb.early` of `mlops gate` and `mlops register`: start DVC now. It runs only
    when `status_of` asks; if the verb stops first, it is stopped untouched."""
    return _EARLY.started()


def status_of(root: Path, targets: Sequence[str]) -> tuple[int, list[str]]:
    """`dvc status --json --with-deps TARGETS` in `root`, by the DVC `start_early`
    started (else one started now): its exit code and its lines of output."""
    waiting = _EARLY.take()
    lines: list[str] = []
    code = waiting.stream(lines.append, ["status", "--json", "--with-deps", *targets], cwd=root)
    return code, lines


def report_of(lines: Sequence[str]) -> dict[str, Any] | None:
    """The JSON report of `dvc status --json` among its lines of output (a started DVC
    writes stdout and stderr to one pipe, so warnings share them): the last line that
    is an object; None when there is none or it is not JSON."""
    line = next((ln for ln in reversed(lines) if ln.startswith("{")), None)
    try:
        report = json.loads(line) if line is not None else None
    except ValueError:
        return None
    return report if isinstance(report, dict) else None


def _changed(report: dict[str, Any]) -> list[str]:
    out = []
    for stage, entries in sorted(report.items()):
        if not isinstance(entries, list) or not entries:
            continue
        if all(entry == "always changed" for entry in entries):
            continue
        if ".dvc" in stage.rsplit(":", 1)[0].rsplit("/", 1)[-1]:
            continue  # a `dvc add` file: its data is the user's, not a stage to run
        out.append(display_name(stage))
    return out
