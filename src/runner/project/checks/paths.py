"""Path rules: every path a pipeline names is repository-relative and stays inside."""

from __future__ import annotations

import posixpath
import re
from collections.abc import Iterable
from pathlib import Path, PurePosixPath

from runner.config.load import Workspace
from runner.errors import Problem
from runner.layout import (
    DEPLOYMENTS_FILE,
    GITIGNORE,
    MLOPS_DIR,
    PARAMS_FILE,
    PIPELINES_DIR,
    PROJECT_FILE,
    ROOT_DVC_LOCK,
    ROOT_DVC_YAML,
    WORKFLOW_DIR,
    manifest_file,
)
from runner.yamlio import Document, Loc


def check_path(ws: Workspace, doc: Document, loc: Loc, path: str) -> list[Problem]:
    """A problem at `loc` when `path` is not a safe path."""
    why = path_problem(ws.root, path)
    if why is None:
        return []
    return [
        doc.problem(
            loc,
            f"{_dotted(loc)}: path '{path}' {why}",
            "paths are relative to the project root and stay inside it",
        )
    ]


def _dotted(loc: Loc) -> str:
    from runner.yamlio import format_loc

    return format_loc(tuple(part for part in loc if isinstance(part, int) or "/" not in part))


def path_problem(root: Path, path: str) -> str | None:
    """Why `path` is not a safe repository-relative path, or None."""
    if not path.strip():
        return "is empty"
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in path):
        return "contains a control character"
    if "\\" in path:
        return "contains a backslash (use '/')"
    if path.startswith(("/", "~")) or re.match(r"^[A-Za-z]:", path):
        return "is absolute"
    depth = 0
    for part in PurePosixPath(path).parts:
        depth += -1 if part == ".." else (0 if part == "." else 1)
        if depth < 0:
            return "escapes the project folder"
    parts = PurePosixPath(path).parts
    if parts and parts[0] in (".git", ".dvc"):
        return f"points into {parts[0]}/"
    real_root = root.resolve()
    resolved = (root / path).resolve()
    if resolved != real_root and real_root not in resolved.parents:
        return "leaves the project folder through a symlink"
    return None


# What a stage may not write: the project's own files and what compile and the
# root stages write. DVC would otherwise overwrite (or delete, on checkout) them.
_OWNED = (
    PROJECT_FILE,
    DEPLOYMENTS_FILE,
    PARAMS_FILE,
    ROOT_DVC_YAML,
    ROOT_DVC_LOCK,
    GITIGNORE,
    PIPELINES_DIR,
    MLOPS_DIR,
    WORKFLOW_DIR.split("/")[0],
)


def out_problem(pipelines: Iterable[str], path: str) -> str | None:
    """Why a stage may not write `path` (already a safe relative path), or None."""
    clean = posixpath.normpath(path)
    if clean == ".":
        return "is the project folder itself"
    top = clean.split("/")[0]
    if top in _OWNED:
        return f"would overwrite {top}, which the project or mlops-runner owns"
    for name in pipelines:
        manifest = manifest_file(name)
        if manifest == clean or manifest.startswith(clean + "/"):
            return f"would overwrite the manifest of pipeline '{name}' ({manifest})"
    return None
