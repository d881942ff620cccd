"""Model artifacts: their sha256 manifest, and fetching one version from the DVC remote.

Fetching reads through DVC at the version's commit with an empty, private
cache, so the bytes come from the remote itself (no retraining, and no stale
local copy can stand in). Nothing here loads or unpickles a model.
"""

from __future__ import annotations

import tempfile
from collections.abc import Mapping
from pathlib import Path

from runner.errors import CheckFailed
from runner.fsutil import manifest
from runner.fsutil import manifest_digest as digest

__all__ = ["digest", "fetch", "manifest", "verify"]


def verify(folder: Path, files: Mapping[str, str], what: str) -> None:
    """Raise unless `folder` holds exactly `files` with their sha256."""
    found = manifest(folder)
    for rel in sorted(set(files) | set(found)):
        if rel not in found:
            raise CheckFailed(f"{what}: {rel} is missing", "the artifact is incomplete")
        if rel not in files:
            raise CheckFailed(f"{what}: unexpected file {rel}", "the artifact does not match")
        if found[rel] != files[rel]:
            raise CheckFailed(
                f"{what}: sha256 mismatch for {rel}: expected {files[rel][:12]}…, "
                f"got {found[rel][:12]}…",
                "the stored bytes were altered or corrupted; nothing was deployed",
            )


def fetch(root: Path, commit: str, path: str, dest: Path) -> Path:
    """Copy `path` as of `commit` from the DVC remote into `dest`; return the copy."""
    from dvc.api import DVCFileSystem

    with tempfile.TemporaryDirectory(prefix="mlops-cache-") as cache:
        try:
            fs = DVCFileSystem(str(root), rev=commit, config={"cache": {"dir": cache}})
            target = dest / Path(path).name
            if fs.isdir(path):
                fs.get(path, str(target), recursive=True)
            else:
                fs.get_file(path, str(target))
        except FileNotFoundError as exc:
            raise CheckFailed(
                f"{path} at {commit[:7]} is not in the DVC remote ({exc.strerror or exc})",
                "push it from a machine that has it: dvc push (or rerun mlops register)",
            ) from None
    return target
