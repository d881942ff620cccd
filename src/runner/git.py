"""Every git call in one module (as pre-commit's `git.py`).

Git runs without the variables that say where a repository is (`GIT_DIR`,
`GIT_INDEX_FILE`, ...): a git hook or a worktree exports them for its own
repository, and they would point every call here at it, whatever `cwd` says
(pre-commit's `no_git_env`). Identity, ssh, ssl, askpass, config and trace
variables are kept.
"""

from __future__ import annotations

import getpass
import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from runner import proc

if TYPE_CHECKING:
    import subprocess

# Variables that locate a repository or change how it is read; never inherited.
LOCATION_VARS = frozenset(
    {
        "GIT_DIR",
        "GIT_WORK_TREE",
        "GIT_INDEX_FILE",
        "GIT_INDEX_VERSION",
        "GIT_OBJECT_DIRECTORY",
        "GIT_ALTERNATE_OBJECT_DIRECTORIES",
        "GIT_COMMON_DIR",
        "GIT_PREFIX",
        "GIT_NAMESPACE",
        "GIT_QUARANTINE_PATH",
        "GIT_INTERNAL_SUPER_PREFIX",
        "GIT_SHALLOW_FILE",
        "GIT_GRAFT_FILE",
        "GIT_REPLACE_REF_BASE",
        "GIT_NO_REPLACE_OBJECTS",
        "GIT_LITERAL_PATHSPECS",
        "GIT_GLOB_PATHSPECS",
        "GIT_NOGLOB_PATHSPECS",
        "GIT_ICASE_PATHSPECS",
    }
)


def _git(
    cwd: Path,
    *args: str,
    check: bool = False,
    input: str | None = None,
    errors: str = "strict",
) -> subprocess.CompletedProcess[str]:
    return proc.run(
        ["git", *args], cwd=cwd, check=check, input=input, unset=LOCATION_VARS, errors=errors
    )


def toplevel(cwd: Path) -> Path | None:
    """The work tree that holds `cwd`, or None outside git."""
    result = _git(cwd, "rev-parse", "--show-toplevel")
    return Path(result.stdout.strip()).resolve() if result.returncode == 0 else None


def init(path: Path, branch: str = "main") -> None:
    _git(path, "init", "--quiet", f"--initial-branch={branch}", check=True)


def rev_parse(cwd: Path, ref: str) -> str | None:
    """The full commit id `ref` names, or None when it names nothing."""
    result = _git(cwd, "rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}")
    return result.stdout.strip() if result.returncode == 0 else None


def show(cwd: Path, ref: str, path: str) -> str | None:
    """The text of `path` (relative to the repository root) at `ref`, or None if absent."""
    result = _git(cwd, "show", f"{ref}:{path}")
    return result.stdout if result.returncode == 0 else None


def prefix(cwd: Path) -> str:
    """The path of `cwd` inside its work tree ('' at the top), for `git show REF:path`."""
    result = _git(cwd, "rev-parse", "--show-prefix")
    return result.stdout.strip() if result.returncode == 0 else ""


def tags(cwd: Path, pattern: str) -> list[str]:
    """Tag names matching a glob `pattern` (e.g. `iris-classifier@v*`)."""
    result = _git(cwd, "tag", "--list", pattern)
    return result.stdout.split() if result.returncode == 0 else []


def merge_base(cwd: Path, a: str, b: str) -> str | None:
    """The best common ancestor of `a` and `b`, or None (unrelated, or a shallow clone)."""
    result = _git(cwd, "merge-base", a, b)
    return result.stdout.strip() if result.returncode == 0 else None


def _paths(cwd: Path, cmd: list[str], paths: list[str]) -> list[str]:
    # Literal pathspecs: a dependency named `data[1].csv` is a path, not a pattern;
    # -z: names come back unquoted, whatever characters they hold.
    if not paths:
        return []
    result = _git(cwd, "--literal-pathspecs", cmd[0], "-z", *cmd[1:], "--", *paths, check=True)
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
    _git(cwd, "worktree", "add", "--quiet", "--detach", str(path), commit, check=True)


def worktree_remove(cwd: Path, path: Path) -> None:
    _git(cwd, "worktree", "remove", "--force", str(path))


def for_each_ref(
    cwd: Path, patterns: Sequence[str], fields: Sequence[str], *, merged: Sequence[str] = ()
) -> list[list[str]]:
    """One `git for-each-ref` call: the `fields` (format atoms) of every matching ref.

    Fields are NUL-separated, so a multi-line `%(contents)` is read whole. With
    `merged`, only refs whose (peeled) commit is reachable from one of those refs.
    Text that is not UTF-8 comes back with surrogate escapes (see `is_utf8`).
    """
    if not fields:
        return []
    fmt = "".join(f"%({name})%00" for name in fields)
    args = ["for-each-ref", f"--format={fmt}", *(f"--merged={ref}" for ref in merged)]
    result = _git(cwd, *args, "--", *patterns, errors="surrogateescape")
    if result.returncode != 0:
        return []
    # Each ref prints its fields, each followed by NUL, then a newline.
    values = result.stdout.split("\0")
    rows = []
    for start in range(0, len(values) - len(fields), len(fields)):
        row = values[start : start + len(fields)]
        if start:
            row[0] = row[0].removeprefix("\n")
        rows.append(row)
    return rows


def is_utf8(text: str) -> bool:
    """False when `text` carries surrogate escapes of bytes that were not UTF-8."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def create_tag(cwd: Path, tag: str, commit: str, message: str) -> None:
    """The annotated tag `tag` on `commit` with `message`."""
    _git(cwd, "tag", "-a", tag, commit, "-F", "-", input=message, check=True)


def push_tag(cwd: Path, tag: str, remote: str = "origin") -> None:
    _git(cwd, "push", "--quiet", remote, f"refs/tags/{tag}", check=True)


def remote_has_tag(cwd: Path, tag: str, remote: str = "origin") -> bool:
    """Whether `remote` has the tag `tag` (asks the remote: `git ls-remote`)."""
    result = _git(cwd, "ls-remote", "--tags", remote, f"refs/tags/{tag}", check=True)
    return bool(result.stdout.strip())


def dirty_files(cwd: Path, paths: Sequence[str]) -> list[str]:
    """Paths under `paths` that are modified, staged, deleted or untracked (`git status`)."""
    result = _git(cwd, "status", "--porcelain", "--", *paths, check=True)
    return [line[3:] for line in result.stdout.splitlines()]


def log_of(cwd: Path, path: str) -> list[tuple[str, str, str, str]]:
    """(commit, committer time, `name <email>`, subject) of each commit touching `path`.

    Oldest first.
    """
    result = _git(cwd, "log", "--reverse", "--format=%H%x00%cI%x00%an <%ae>%x00%s", "--", path)
    out = []
    for line in result.stdout.splitlines():
        parts = line.split("\0")
        if len(parts) == 4:
            out.append((parts[0], parts[1], parts[2], parts[3]))
    return out


def config_value(cwd: Path, key: str) -> str | None:
    """The effective value of git config `key` in the repository at `cwd`, or None."""
    result = _git(cwd, "config", "--get", key)
    value = result.stdout.strip()
    return value if result.returncode == 0 and value else None


def main_refs(cwd: Path, main_branch: str) -> list[str]:
    """The refs that stand for the main branch: `origin/<main>` and `<main>`, those that exist."""
    return [ref for ref in (f"origin/{main_branch}", main_branch) if rev_parse(cwd, ref)]


def actor(cwd: Path) -> str:
    """Who is acting, the same string wherever it is recorded.

    In GitHub Actions, `GITHUB_ACTOR` and the run's URL; else the git identity
    (`user.name <user.email>`, as git itself would take it for a commit: the
    GIT_AUTHOR_* variables first, then git config); else the OS user name.
    """
    env = os.environ
    if env.get("GITHUB_ACTOR"):
        parts = [env.get(v) for v in ("GITHUB_SERVER_URL", "GITHUB_REPOSITORY", "GITHUB_RUN_ID")]
        if all(parts):
            server, repository, run_id = parts
            return f"{env['GITHUB_ACTOR']} ({server}/{repository}/actions/runs/{run_id})"
        return env["GITHUB_ACTOR"]
    name = env.get("GIT_AUTHOR_NAME") or config_value(cwd, "user.name")
    if name:
        email = env.get("GIT_AUTHOR_EMAIL") or config_value(cwd, "user.email")
        return f"{name} <{email}>" if email else name
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


def commit_files(cwd: Path, paths: Sequence[str], message: str, identity: tuple[str, str]) -> str:
    """Commit exactly `paths` (added or changed) as `identity` (name, email); the new id."""
    name, email = identity
    _git(cwd, "--literal-pathspecs", "add", "--", *paths, check=True)
    who = ["-c", f"user.name={name}", "-c", f"user.email={email}"]
    _git(
        cwd,
        *who,
        "--literal-pathspecs",
        "commit",
        "--quiet",
        "--no-verify",
        f"--author={name} <{email}>",
        "-F",
        "-",
        "--",
        *paths,
        input=message,
        check=True,
    )
    return _git(cwd, "rev-parse", "HEAD", check=True).stdout.strip()


def push_head(cwd: Path, branch: str, remote: str = "origin") -> None:
    """Push HEAD to `branch` on `remote` (a fast-forward; never forced)."""
    _git(cwd, "push", "--quiet", remote, f"HEAD:refs/heads/{branch}", check=True)


def bundle_tag(cwd: Path, tag: str, path: Path) -> None:
    """Write the tag object `tag` alone into a git bundle (its commit is a prerequisite)."""
    _git(cwd, "bundle", "create", str(path), f"refs/tags/{tag}", f"^{tag}^{{commit}}", check=True)


def bundle_tags(cwd: Path, path: Path) -> list[str]:
    """The tags a bundle carries, after checking the repository has what it needs."""
    _git(cwd, "bundle", "verify", "--quiet", str(path), check=True)
    heads = _git(cwd, "bundle", "list-heads", str(path), check=True).stdout.split()
    return [ref.removeprefix("refs/tags/") for ref in heads[1::2] if ref.startswith("refs/tags/")]


def fetch_bundle_tag(cwd: Path, path: Path, tag: str) -> None:
    """Fetch the tag `tag` from the bundle at `path` (never replacing a tag that exists)."""
    _git(cwd, "fetch", "--quiet", str(path), f"refs/tags/{tag}:refs/tags/{tag}", check=True)
