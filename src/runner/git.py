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


def prefix(cwd: Path) -> str:
    """The path of `cwd` inside its work tree ('' at the top), for `git show REF:path`."""
    result = proc.run(["git", "rev-parse", "--show-prefix"], cwd=cwd, check=False)
    return result.stdout.strip() if result.returncode == 0 else ""


def tags(cwd: Path, pattern: str) -> list[str]:
    """Tag names matching a glob `pattern` (e.g. `iris-classifier@v*`)."""
    result = proc.run(["git", "tag", "--list", pattern], cwd=cwd, check=False)
    return result.stdout.split() if result.returncode == 0 else []


def merge_base(cwd: Path, a: str, b: str) -> str | None:
    """The best common ancestor of `a` and `b`, or None (unrelated, or a shallow clone)."""
    result = proc.run(["git", "merge-base", a, b], cwd=cwd, check=False)
    return result.stdout.strip() if result.returncode == 0 else None


def _paths(cwd: Path, cmd: list[str], paths: list[str]) -> list[str]:
    # Literal pathspecs: a dependency named `data[1].csv` is a path, not a pattern;
    # -z: names come back unquoted, whatever characters they hold.
    if not paths:
        return []
    argv = ["git", "--literal-pathspecs", cmd[0], "-z", *cmd[1:], "--", *paths]
    result = proc.run(argv, cwd=cwd)
    return [path for path in result.stdout.split("\0") if path]


def files_at(cwd: Path, ref: str, paths: list[str]) -> list[str]:
    """Files at `ref` that are, or are inside, `paths` (relative to `cwd`, as is the answer)."""
    return _paths(cwd, ["ls-tree", "-r", "--name-only", ref], paths)


def tracked_files(cwd: Path, paths: list[str], *, untracked: bool = False) -> list[str]:
    """Files in the index under `paths`; with `untracked`, the new files git does not ignore."""
    options = ["--others", "--exclude-standard"] if untracked else []
    return _paths(cwd, ["ls-files", *options], paths)


def changed_files(cwd: Path, ref: str, paths: list[str]) -> list[str]:
    """Tracked files under `paths` whose work-tree content differs from `ref`."""
    return _paths(cwd, ["diff", "--name-only", "--relative", "--no-renames", ref], paths)


def worktree_add(cwd: Path, path: Path, commit: str) -> None:
    proc.run(["git", "worktree", "add", "--quiet", "--detach", str(path), commit], cwd=cwd)


def worktree_remove(cwd: Path, path: Path) -> None:
    proc.run(["git", "worktree", "remove", "--force", str(path)], cwd=cwd, check=False)
