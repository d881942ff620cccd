"""Model artifacts: their sha256 manifest, fetching one version from the DVC remote, and
checking that a version record describes what its commit declares.

Fetching reads through DVC at the version's commit with an empty, private
cache, so the bytes come from the remote itself (no retraining, and no stale
local copy can stand in). Nothing here loads or unpickles a model.
"""

from __future__ import annotations

import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from runner import git, yamlio
from runner.errors import CheckFailed
from runner.fsutil import manifest
from runner.fsutil import manifest_digest as digest
from runner.layout import pipeline_dir
from runner.registry.versions import Version

__all__ = ["check_declared", "digest", "fetch", "lock_hashes", "manifest", "verify"]

_FORGED_HINT = (
    "the tag's record does not match its commit (edited or forged): delete the tag and "
    "register the commit again with `mlops register`"
)


def lock_hashes(lock: Any) -> dict[str, dict[str, dict[str, str | None]]]:
    """stage -> "deps"/"outs" -> path -> hash of a parsed `dvc.lock`, as records keep them."""
    stages = lock.get("stages") if isinstance(lock, dict) else None
    return {
        name: {
            kind: {
                item["path"]: item.get("md5") or item.get("hash")
                for item in (stage.get(kind) or [])
            }
            for kind in ("deps", "outs")
        }
        for name, stage in (stages or {}).items()
    }


def _at(root: Path, commit: str, path: str) -> Any:
    """`path` (relative to `root`) parsed as YAML at `commit`; None when absent or broken."""
    text = git.show(root, commit, f"./{path}")
    if text is None:
        return None
    try:
        return yamlio.read(text)
    except yaml.YAMLError:
        return None


def check_declared(root: Path, version: Version) -> None:
    """Raise unless `version`'s record is what its commit declares: its artifact path is
    the model output `dvc.yaml` declares for the model (generated from the pipeline), that
    path is an output in the pipeline's `dvc.lock`, whose hashes the record's `stages`
    repeat exactly, and the artifact digest is the digest of its files. A tag message can
    be rewritten by anyone who can push tags; the commit's files are what was reviewed."""
    record, at = version.record, version.commit[:7]
    if (record.model, record.version, record.commit) != (
        version.model,
        version.version,
        version.commit,
    ):
        raise CheckFailed(
            f"{version.tag}: its record names {record.model} {record.version} at "
            f"{record.commit[:7]}, not the tag's own model, version and commit {at}",
            _FORGED_HINT,
        )
    dvc_yaml = _at(root, version.commit, "dvc.yaml")
    declared = (dvc_yaml.get("artifacts") or {}) if isinstance(dvc_yaml, dict) else {}
    entry = declared.get(record.model)
    path = entry.get("path") if isinstance(entry, dict) else None
    source = (entry.get("meta") or {}).get("pipeline") if isinstance(entry, dict) else None
    if path != record.artifact.path or source != record.pipeline:
        raise CheckFailed(
            f"{version.tag}: its record ships {record.artifact.path} of pipeline "
            f"{record.pipeline}, but dvc.yaml at {at} declares "
            + (f"{path} of pipeline {source}" if path else f"no model output for {record.model}"),
            _FORGED_HINT,
        )
    lock_path = f"{pipeline_dir(record.pipeline)}/dvc.lock"
    lock = lock_hashes(_at(root, version.commit, lock_path))
    if lock != record.stages:
        raise CheckFailed(
            f"{version.tag}: its record's stage hashes differ from {lock_path} at {at}",
            _FORGED_HINT,
        )
    if not any(path in stage["outs"] for stage in lock.values()):
        raise CheckFailed(
            f"{version.tag}: {path} is not an output in {lock_path} at {at}", _FORGED_HINT
        )
    if digest(record.artifact.files) != record.artifact.digest:
        raise CheckFailed(
            f"{version.tag}: its record's artifact digest is not the digest of its files",
            _FORGED_HINT,
        )


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
