"""What `dvc status` still calls changed after a run: a run that reports success must
leave nothing behind, and this is how `mlops run` checks it."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

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
            self._waiting = proc.start_module(
                "dvc", cwd=Path.cwd(), preload=DVC_PRELOAD, warm=DVC_WARM
            )

    def cancel(self) -> None:
        if self._waiting is not None:
            self._waiting.cancel()

    def changed(self, root: Path, targets: Sequence[str]) -> list[str]:
        """Stages (`iris:train`) that `dvc status` lists as changed, `always_changed`
        ones aside."""
        # With targets (chosen pipelines' root stages), their upstream stages count too.
        args = ["status", "--json", *(["--with-deps"] if targets else []), *targets]
        if self._waiting is None:
            return _changed(proc.run(proc.dvc_cmd(*args), cwd=root).stdout)
        lines: list[str] = []
        code = self._waiting.stream(lines.append, args, cwd=root)
        if code != 0:
            raise ExternalCommandError(
                f"`dvc {' '.join(args)}` exited with {code}\n" + "\n".join(lines[-20:]),
                "the command's own output is shown above",
            )
        # Its stdout and stderr come merged: the report is the line that is an object.
        return _changed(next((ln for ln in reversed(lines) if ln.startswith("{")), "{}"))


def _changed(stdout: str) -> list[str]:
    try:
        report = json.loads(stdout or "{}")
    except ValueError:
        return []
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
