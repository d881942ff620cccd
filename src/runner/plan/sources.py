"""Whether the files a stage reads and no stage writes differ from the base commit."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from runner import git, yamlio
from runner.layout import ROOT_DVC_LOCK, ROOT_DVC_YAML
from runner.plan.model import Reason
from runner.plan.side import Stage


def _inside(inner: str, outer: str) -> bool:
    return outer in ("", ".") or inner == outer or inner.startswith(outer.rstrip("/") + "/")


class Sources:
    """Whether files no stage writes (scripts, raw data) differ from the base commit.

    Git answers for what it tracks, `x.dvc` files included; for other files the
    md5 the base's dvc.lock recorded is compared with the file; else it cannot tell.
    """

    def __init__(self, root: Path, commit: str, paths: list[str]) -> None:
        self.root, self.commit = root, commit
        wanted = sorted({*paths, *(f"{p}.dvc" for p in paths)})
        self.changed = {
            *git.changed_files(root, commit, wanted),
            *git.tracked_files(root, wanted, untracked=True),
        }
        known = {*git.files_at(root, commit, wanted), *git.tracked_files(root, wanted)}
        self.known = known | self.changed
        self.locks: dict[str, Any] = {}

    def reason(self, stage: Stage, path: str) -> Reason | None:
        """Why `path` makes `stage` re-run, or None when it did not change."""
        files = [f for f in self.known if _inside(f, path) or f == f"{path}.dvc"]
        if files:
            return Reason("dep", path) if any(f in self.changed for f in files) else None
        entry = self._locked(stage, path)
        target = self.root / path
        if not entry or entry.get("hash") != "md5" or not target.is_file():
            why = "a folder outside git" if target.is_dir() else "not in git, no dvc.lock hash"
            return Reason("dep", path, certain=False, detail=why)
        same = hashlib.md5(target.read_bytes()).hexdigest() == entry.get("md5")
        return None if same else Reason("dep", path, detail="differs from the base's dvc.lock")

    def _locked(self, stage: Stage, path: str) -> Mapping[str, Any] | None:
        lock_file = stage.file.removesuffix(ROOT_DVC_YAML) + ROOT_DVC_LOCK
        if lock_file not in self.locks:
            text = git.show(self.root, self.commit, git.prefix(self.root) + lock_file)
            self.locks[lock_file] = yamlio.read(text) if text else None
        lock = self.locks[lock_file]
        if not isinstance(lock, Mapping):
            return None
        deps = ((lock.get("stages") or {}).get(stage.name) or {}).get("deps") or []
        return next((d for d in deps if isinstance(d, Mapping) and d.get("path") == path), None)
