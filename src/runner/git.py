"""Every git call in one module (as pre-commit's `git.py`)."""

from __future__ import annotations

from pathlib import Path

from runner import proc


def toplevel(cwd: Path) -> Path | None:
    """The work tree that holds `cwd`, or None outside git."""
    result = proc.run(["git", "rev-parse", "--show-toplevel"], cwd=cwd, check=False)
    return Path(result.stdout.strip()).resolve() if result.returncode == 0 else None


def init(path: Path) -> None:
    proc.run(["git", "init", "--quiet"], cwd=path)
