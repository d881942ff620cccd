"""The base side: which commit to compare with, and the project as it was there."""

from __future__ import annotations

import tempfile
from collections.abc import Collection
from pathlib import Path

from runner import git
from runner.config.load import Workspace
from runner.errors import ConfigError, UsageError
from runner.layout import DEPLOYMENTS_FILE, PIPELINES_DIR, PROJECT_FILE
from runner.plan.model import plural
from runner.project.workspace import open_workspace


def resolve_base(root: Path, base: str | None, main_branch: str) -> tuple[str, str]:
    """The base ref's name and the commit to compare with: where the branch left it.

    Without `base`, `origin/<main_branch>` if it exists, else `<main_branch>`.
    """
    if git.toplevel(root) is None:
        raise UsageError(
            f"{root} is not in a git repository; plan compares the project with a git ref",
            "run it in a clone of the project's repository",
        )
    if base is not None and base.startswith("-"):
        raise UsageError(f"--base {base}: not a ref", "pass a branch, tag or commit id")
    for ref in [base] if base is not None else [f"origin/{main_branch}", main_branch]:
        commit = git.rev_parse(root, ref)
        if commit is not None:
            # Like a pull request's diff: what the branch changed since it forked.
            return ref, git.merge_base(root, commit, "HEAD") or commit
    if base is not None:
        raise UsageError(f"--base {base}: no such commit", "pass a branch, tag or commit id")
    raise UsageError(
        f"neither origin/{main_branch} nor {main_branch} exists (ci.main_branch in mlops.yaml)",
        "pass the ref to compare with: mlops plan --base REF (e.g. --base HEAD~1)",
    )


def load_base(
    root: Path, commit: str, only: Collection[str] | None = None
) -> tuple[Workspace | None, str | None]:
    """The project as it was at `commit`, or None and a one-line note saying why not.

    `only`: read just these pipelines (the others are left out of the base).
    """
    prefix = git.prefix(root)
    files = {PROJECT_FILE: git.show(root, commit, prefix + PROJECT_FILE)}
    if files[PROJECT_FILE] is None:
        return None, f"no {PROJECT_FILE} at the base: everything is new"
    for rel in git.files_at(root, commit, [PIPELINES_DIR]):
        if rel.count("/") == 1 and rel.endswith((".yaml", ".yml")):
            if only is not None and Path(rel).stem not in only:
                continue
            files[rel] = git.show(root, commit, prefix + rel)
    files[DEPLOYMENTS_FILE] = git.show(root, commit, prefix + DEPLOYMENTS_FILE)
    with tempfile.TemporaryDirectory(prefix="mlops-plan-") as tmp:
        for rel, text in files.items():
            if text is not None:
                (Path(tmp) / rel).parent.mkdir(parents=True, exist_ok=True)
                (Path(tmp) / rel).write_text(text, encoding="utf-8")
        try:
            return open_workspace(Path(tmp)), None
        except ConfigError as exc:
            return None, _invalid(exc)


def _invalid(exc: ConfigError) -> str:
    first = exc.problems[0]
    where = ":".join(str(x) for x in (first.file, first.line, first.col) if x)
    more = len(exc.problems) - 1
    return (
        f"the base is invalid ({where + ': ' if where else ''}{first.message.splitlines()[0]}"
        + (f", and {more} more {plural('problem', more)}" if more else "")
        + "): compared with an empty project"
    )
