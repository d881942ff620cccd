"""The deployment target protocol.

A target holds immutable versions of a model and one pointer naming the
version that serves. Deploying is: upload the version under its own key
(verify by reading it back), then switch the pointer with a compare-and-swap,
then append an audit record. A crash at any step leaves the old pointer in
place; the next deploy converges. Targets move bytes; they never load a model.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterator, Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Protocol

from runner.errors import CheckFailed


class TargetError(CheckFailed):
    """A target cannot be reached or refuses an operation (exit 1, with a hint)."""


class PointerConflict(TargetError):
    """The pointer changed between reading and switching it (another deploy won)."""


@dataclass(frozen=True)
class Pointer:
    """What a target serves: a model version and the sha256 of its files' manifest."""

    model: str
    version: str
    digest: str  # sha256 over the sorted (relative path, file sha256) list
    commit: str = ""

    def to_json(self) -> dict[str, str]:
        return {
            "model": self.model,
            "version": self.version,
            "digest": self.digest,
            "commit": self.commit,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Pointer:
        return cls(
            str(data["model"]),
            str(data["version"]),
            str(data["digest"]),
            str(data.get("commit", "")),
        )


class Target(Protocol):
    """What `mlops deploy` needs from a deployment target."""

    def describe(self) -> str:
        """Where this target is, for messages (`.mlops/deploy/staging`, `s3://b/p`)."""
        ...

    def current(self, model: str) -> Pointer | None:
        """The pointer of `model`, or None when nothing was ever deployed."""
        ...

    def has_version(self, model: str, version: str, files: Mapping[str, str]) -> bool:
        """Whether the version is stored complete: every file present with its sha256."""
        ...

    def upload(self, model: str, version: str, source: Path, files: Mapping[str, str]) -> None:
        """Store the files of `source` (relative path -> sha256) under the version's own
        key, then read each back and check its sha256. Raise TargetError on a mismatch."""
        ...

    def switch(self, model: str, expected: Pointer | None, new: Pointer) -> None:
        """Point `model` at `new` if it still points at `expected` (atomic compare-and-swap);
        raise PointerConflict when another deploy changed it first."""
        ...

    def append_audit(self, model: str, record: Mapping[str, Any]) -> None:
        """Add one record to the model's audit log (never rewrites earlier records)."""
        ...

    def audit(self, model: str) -> list[dict[str, Any]]:
        """Every audit record of `model`, oldest first."""
        ...

    def lock(self, model: str) -> AbstractContextManager[None]:
        """Serialize deploys of `model` to this target (waits; TargetError on timeout)."""
        ...

    def read_file(self, model: str, version: str, relpath: str) -> bytes:
        """The bytes of one stored file (for verification and tests)."""
        ...


def iter_files(folder: Path) -> Iterator[Path]:
    """Every regular file below `folder`, in sorted order."""
    yield from sorted(p for p in folder.rglob("*") if p.is_file())


# ------------------------------------------------ shared by the implementations

LOCK_TIMEOUT = 60.0  # seconds a deploy waits for another one holding the lock

# Model and version names become one path segment or key part each: no
# separators, no leading dot, so `..` or `/` can never escape the model's folder.
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+-]*$")


def check_name(what: str, value: str) -> str:
    """`value` if it is a safe model or version name; TargetError otherwise."""
    if not _NAME.fullmatch(value):
        raise TargetError(
            f"invalid {what} name {value!r}",
            "use letters, digits, '.', '_', '+' and '-', starting with a letter or digit",
        )
    return value


def check_relpath(rel: str) -> str:
    """`rel` if it is a plain relative POSIX path that stays inside its folder."""
    parts = rel.split("/")
    if not rel or "\\" in rel or any(p in ("", ".", "..") for p in parts):
        raise TargetError(
            f"invalid file path {rel!r} in the manifest",
            "manifest paths are relative, '/'-separated, without '.' or '..' segments",
        )
    return rel


def sha256_stream(fh: IO[bytes]) -> str:
    """The hex sha256 of everything left in `fh`, read in 1 MiB blocks."""
    h = hashlib.sha256()
    for block in iter(lambda: fh.read(1 << 20), b""):
        h.update(block)
    return h.hexdigest()


def source_file(source: Path, rel: str) -> Path:
    """Where manifest entry `rel` lies: below the folder `source`, or `source` itself
    when it is a one-file artifact (whose manifest is `{source.name: sha256}`)."""
    if source.is_file() and rel == source.name:
        return source
    return source / check_relpath(rel)


def parse_record(raw: bytes | str, where: str) -> dict[str, Any]:
    """One audit record, or TargetError naming where the bad record is."""
    try:
        record = json.loads(raw)
    except ValueError as exc:
        raise TargetError(f"{where}: not a JSON record ({exc})") from exc
    if not isinstance(record, dict):
        raise TargetError(f"{where}: not a JSON object")
    return record
