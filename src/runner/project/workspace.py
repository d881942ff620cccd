"""Open a project: load its files (`runner.config.load`) and run the cross-file checks.

The checks need the stage graph, which is derived from the loaded files, so they
live in this package and are handed to the loader from here.
"""

from __future__ import annotations

from pathlib import Path

from runner.config.load import Workspace, load_workspace
from runner.errors import Problem
from runner.project.checks import check_workspace


def _checks(ws: Workspace, complete: bool) -> list[Problem]:
    return check_workspace(ws, complete=complete)


def open_workspace(root: Path, *, check: bool = True) -> Workspace:
    """The validated workspace under `root`; ConfigError with every problem otherwise."""
    return load_workspace(root, checker=_checks if check else None)
