"""Inputs a pipeline reads that `dvc add` tracks: their data lives in the DVC remote.

A fresh clone or worktree has the `.dvc` file (in git) but not the data it points
at, and `dvc repro` then fails on the `.dvc` stage ("missing data 'source'").
`mlops reproduce` fetches them first; `mlops run` names them and offers `--pull`.
"""

from __future__ import annotations

import posixpath
from collections.abc import Iterable
from pathlib import Path

from runner import yamlio
from runner.fsutil import FileTooLarge, read_text_bounded

DVC_SUFFIX = ".dvc"
DVC_FILE_LIMIT = 1 << 20  # bytes; a .dvc file is a few lines


def tracked_by_dvc(root: Path, deps: Iterable[str]) -> list[str]:
    """The `.dvc` files (as `dvc add` writes them) that track any of `deps`, sorted.

    `dvc add data/wine.csv` writes `data/wine.csv.dvc`, and `dvc add data` writes
    `data.dvc`, which covers every file below `data/`; both are found.
    """
    found: set[str] = set()
    for dep in deps:
        path = posixpath.normpath(dep)
        while path not in ("", ".", "/"):
            candidate = path + DVC_SUFFIX
            if candidate not in found and _tracks(root, candidate, path):
                found.add(candidate)
                break
            path = posixpath.dirname(path)
    return sorted(found)


def _tracks(root: Path, dvc_file: str, path: str) -> bool:
    file = root / dvc_file
    if not file.is_file():
        return False
    try:
        data = yamlio.read(read_text_bounded(file, DVC_FILE_LIMIT))
    except (yamlio.YAMLError, FileTooLarge, UnicodeDecodeError, OSError):
        return False
    outs = data.get("outs") if isinstance(data, dict) else None
    base = posixpath.dirname(dvc_file)
    return any(
        isinstance(out, dict)
        and posixpath.normpath(posixpath.join(base, str(out.get("path")))) == path
        for out in outs or []
    )
