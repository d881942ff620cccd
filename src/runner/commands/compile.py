"""`mlops compile [--check]`: write the generated files, or verify they are current."""

from __future__ import annotations

import difflib
import sys

from runner.commands.validate import project_root
from runner.compiler import compile_project
from runner.config.load import load_workspace
from runner.errors import CheckFailed
from runner.fsutil import write_all


def run(*, project: str | None, format: str, check: bool) -> int:
    ws = load_workspace(project_root(project))
    files = compile_project(ws)
    changed: list[tuple[str, str, str]] = []
    for rel, text in files:
        path = ws.root / rel
        try:
            current = path.read_text("utf-8")
        except (FileNotFoundError, UnicodeDecodeError):
            current = ""
        if current != text:
            changed.append((rel, current, text))
    if check:
        if not changed:
            if format == "text":
                sys.stdout.write(f"up to date: {len(files)} generated file(s)\n")
            return 0
        for rel, current, text in changed:
            sys.stdout.writelines(
                difflib.unified_diff(
                    current.splitlines(keepends=True),
                    text.splitlines(keepends=True),
                    fromfile=f"a/{rel}",
                    tofile=f"b/{rel}",
                )
            )
        names = ", ".join(rel for rel, _, _ in changed)
        raise CheckFailed(
            f"{len(changed)} generated file(s) are stale or were edited by hand: {names}",
            "run `mlops compile` and commit the result",
        )
    write_all([(ws.root / rel, text) for rel, _, text in changed])
    if format == "text":
        for rel, _, _ in changed:
            sys.stdout.write(f"wrote {rel}\n")
        sys.stdout.write(
            f"compiled {len(ws.pipelines)} pipeline(s): {len(changed)} file(s) changed, "
            f"{len(files) - len(changed)} unchanged\n"
        )
    return 0
