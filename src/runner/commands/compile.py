"""`mlops compile [--check]`: write the generated files, or verify they are current."""

from __future__ import annotations

import difflib
import sys

from runner.commands.output import write_json
from runner.compile import generated
from runner.config.load import Workspace
from runner.errors import CheckFailed


def run(*, ws: Workspace, format: str, check: bool, force: bool) -> int:
    if check and generated.interrupted(ws):
        raise CheckFailed(
            "a killed `mlops compile` left its journal: the generated files are half written",
            "run `mlops compile` to finish it",
        )
    if not check and generated.finish_interrupted(ws) and format == "text":
        sys.stdout.write("finished the files of an interrupted compile\n")
    total, changed = generated.changes(ws)
    if check:
        generated.check_writable(ws, [], force=False)
        if format == "json":
            _summary("stale", changed, total)
        if not changed:
            if format == "text":
                sys.stdout.write(f"up to date: {total} generated file(s)\n")
            return 0
        for change in changed if format != "json" else ():
            if change.remove:
                sys.stdout.write(f"--- a/{change.path}\n+++ /dev/null (its pipeline is gone)\n")
                continue
            sys.stdout.writelines(
                difflib.unified_diff(
                    change.current.splitlines(keepends=True),
                    change.wanted.splitlines(keepends=True),
                    fromfile=f"a/{change.path}",
                    tofile=f"b/{change.path}",
                )
            )
        names = ", ".join(c.path for c in changed)
        live = generated.dvclive_entries(ws, changed)
        raise CheckFailed(
            f"{len(changed)} generated file(s) are stale or were edited by hand: {names}"
            + (f" (dvclive's Live() added {'; '.join(live)})" if live else ""),
            "write Live(dvcyaml=False), declare what it writes under the stage's metrics: and "
            "plots: (docs/dvc.md, dvclive), then run `mlops compile`"
            if live
            else "run `mlops compile` and commit the result",
        )
    generated.refuse_while_dvc_runs(ws, changed)
    generated.apply(ws, changed, force=force)
    if format == "json":
        _summary("written", changed, total)
    if format == "text":
        for change in changed:
            verb = "removed" if change.remove else "wrote"
            sys.stdout.write(f"{verb} {change.path}\n")
        sys.stdout.write(
            f"compiled {len(ws.pipelines)} pipeline(s): {len(changed)} file(s) changed, "
            f"{total - len(changed)} unchanged\n"
        )
    return 0


def _summary(key: str, changed: list[generated.FileChange], total: int) -> None:
    """The one JSON document of `--format json`."""
    paths = [c.path for c in changed if not c.remove]
    removed = [c.path for c in changed if c.remove]
    write_json({key: paths, "removed": removed, "unchanged": total - len(paths)})
