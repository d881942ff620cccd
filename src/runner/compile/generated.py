"""Compare the compiled files with the work tree, and write the ones that differ."""

from __future__ import annotations

from dataclasses import dataclass

from runner.compile.dvcfiles import compile_dvc
from runner.compile.kubernetes import compile_kubernetes
from runner.compile.workflows import compile_workflows
from runner.config.load import Workspace
from runner.fsutil import write_all


def compile_project(ws: Workspace) -> list[tuple[str, str]]:
    """Every generated file as (project-relative path, text), sorted by path. Pure."""
    return sorted(compile_dvc(ws) + compile_workflows(ws) + compile_kubernetes(ws))


@dataclass(frozen=True)
class FileChange:
    path: str
    current: str  # "" when the file does not exist
    wanted: str


def changes(ws: Workspace) -> tuple[int, list[FileChange]]:
    """(number of generated files, the ones whose content differs from the work tree)."""
    files = compile_project(ws)
    out = []
    for rel, text in files:
        try:
            current = (ws.root / rel).read_text("utf-8")
        except (FileNotFoundError, IsADirectoryError, UnicodeDecodeError):
            current = ""
        if current != text:
            out.append(FileChange(rel, current, text))
    return len(files), out


def apply(ws: Workspace, pending: list[FileChange]) -> None:
    write_all([(ws.root / c.path, c.wanted) for c in pending])
