"""Every git call in one module (as pre-commit's `git.py`)."""

from __future__ import annotations

from pathlib import Path

from runner import proc


def toplevel(cwd: Path) -> Path | None:
    """The work tree that holds `cwd`, or None outside git."""
    result = proc.run(["git", "rev-parse", "--show-toplevel"], cwd=cwd, check=False)
    return Path(result.stdout.strip()).resolve() if result.returncode == 0 else None


def init(path: Path, branch: str = "main") -> None:
    proc.run(["git", "init", "--quiet", f"--initial-branch={branch}"], cwd=path)


def rev_parse(cwd: Path, ref: str) -> str | None:
    """The full commit id `ref` names, or None when it names nothing."""
    result = proc.run(
        ["git", "rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}"], cwd=cwd, check=False
    )
    return result.stdout.strip() if result.returncode == 0 else None


def show(cwd: Path, ref: str, path: str) -> str | None:
    """The text of `path` (relative to the repository root) at `ref`, or None if absent."""
    result = proc.run(["git", "show", f"{ref}:{path}"], cwd=cwd, check=False)
    return result.stdout if result.returncode == 0 else None


def ls_tree(cwd: Path, ref: str, folder: str) -> list[str]:
    """Paths of the files directly inside `folder` at `ref`."""
    result = proc.run(
        ["git", "ls-tree", "--name-only", f"{ref}:{folder}"]
        if folder
        else ["git", "ls-tree", "--name-only", ref],
        cwd=cwd,
        check=False,
    )
    if result.returncode != 0:
        return []
    return [f"{folder}/{name}" if folder else name for name in result.stdout.splitlines()]


def prefix(cwd: Path) -> str:
    """The path of `cwd` inside its work tree ('' at the top), for `git show REF:path`."""
    result = proc.run(["git", "rev-parse", "--show-prefix"], cwd=cwd, check=False)
    return result.stdout.strip() if result.returncode == 0 else ""


def tags(cwd: Path, pattern: str) -> list[str]:
    """Tag names matching a glob `pattern` (e.g. `iris-classifier@v*`)."""
    result = proc.run(["git", "tag", "--list", pattern], cwd=cwd, check=False)
    return result.stdout.split() if result.returncode == 0 else []
