"""Model artifacts: their sha256 manifest, and fetching one version from the DVC remote.

Fetching reads through DVC at the version's commit with an empty, private
cache, so the bytes come from the remote itself (no retraining, and no stale
local copy can stand in). Nothing here loads or unpickles a model.
"""

from __future__ import annotations

import hashlib
import tempfile
from collections.abc import Mapping
from pathlib import Path

from runner.errors import CheckFailed


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def manifest(folder: Path) -> dict[str, str]:
    """relative path -> sha256 of every file below `folder` (or of `folder` itself)."""
    if folder.is_file():
        return {folder.name: sha256_file(folder)}
    return {
        p.relative_to(folder).as_posix(): sha256_file(p)
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def digest(files: Mapping[str, str]) -> str:
    """One sha256 over a manifest: the artifact's identity."""
    h = hashlib.sha256()
    for rel in sorted(files):
        h.update(f"{rel}\0{files[rel]}\n".encode())
    return h.hexdigest()


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
