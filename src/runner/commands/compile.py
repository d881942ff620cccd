"""`mlops compile [--check]`: write the generated files, or verify they are current."""

from __future__ import annotations

import difflib
import sys

from runner.commands.output import write_json
from runner.compile import generated
from runner.config.load import Workspace
from runner.errors import CheckFailed


def run(*, ws: Workspace, format: str, check: bool) -> int:
    total, changed = generated.changes(ws)
    if check:
        if format == "json":
            _summary("stale", changed, total)
        if not changed:
            if format == "text":
                sys.stdout.write(f"up to date: {total} generated file(s)\n")
            return 0
        for change in changed if format != "json" else ():
            sys.stdout.writelines(
                difflib.unified_diff(
                    change.current.splitlines(keepends=True),
                    change.wanted.splitlines(keepends=True),
                    fromfile=f"a/{change.path}",
                    tofile=f"b/{change.path}",
                )
            )
        names = ", ".join(c.path for c in changed)
        raise CheckFailed(
            f"{len(changed)} generated file(s) are stale or were edited by hand: {names}",
            "run `mlops compile` and commit the result",
        )
    generated.apply(ws, changed)
    if format == "json":
        _summary("written", changed, total)
    if format == "text":
        for change in changed:
            sys.stdout.write(f"wrote {change.path}\n")
        sys.stdout.write(
            f"compiled {len(ws.pipelines)} pipeline(s): {len(changed)} file(s) changed, "
            f"{total - len(changed)} unchanged\n"
        )
    return 0


def _summary(key: str, changed: list[generated.FileChange], total: int) -> None:
    """The one JSON document of `--format json`."""
    paths = [c.path for c in changed]
    write_json({key: paths, "unchanged": total - len(paths)})
