"""The deployment target protocol.

A target holds immutable versions of a model and one pointer naming the
version that serves. Deploying is: upload the version under its own key
(verify by reading it back), then switch the pointer with a compare-and-swap,
then append an audit record. A crash at any step leaves the old pointer in
place; the next deploy converges. Targets move bytes; they never load a model.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Final, Literal, Protocol, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from runner.errors import CheckFailed


class TargetError(CheckFailed):
    """A target cannot be reached or refuses an operation (exit 1, with a hint)."""


class PointerConflict(TargetError):
    """The pointer changed between reading and switching it (another deploy won)."""


SCHEMA: Final = 1  # of the pointer and the audit record; a record without one is schema 1

_RECORD = ConfigDict(extra="forbid", frozen=True, strict=True, defer_build=True)


class Pointer(BaseModel):
    """What a target serves (`current.json`): a model version and its manifest digest."""

    model_config = _RECORD

    model: str
    version: str
    digest: str  # sha256 over the sorted (relative path, file sha256) list
    commit: str = ""
    schema_: Literal[1] = Field(default=SCHEMA, alias="schema")

    def to_bytes(self) -> bytes:
        """The pointer as a target stores it: indented JSON, sorted keys, final newline."""
        return (
            json.dumps(self.model_dump(by_alias=True), indent=2, sort_keys=True) + "\n"
        ).encode()

    @classmethod
    def parse(cls, raw: bytes | str, where: str) -> Pointer:
        """The pointer stored at `where`; TargetError saying how to restore a bad one."""
        try:
            return _parse(cls, raw)
        except ValueError as exc:
            raise TargetError(
                f"{where}: not a valid pointer ({_first(exc)})",
                "restore it from the audit trail (`mlops history`), then run `mlops deploy`",
            ) from exc


class AuditRecord(BaseModel):
    """One deploy as a target's audit trail records it."""

    model_config = _RECORD

    time: str  # ISO 8601, UTC
    env: str
    model: str
    version: str
    commit: str
    digest: str
    previous: str | None  # the version served before, None for the first deploy
    actor: str
    note: str = ""  # why a record was written out of turn (omitted when empty)
    schema_: Literal[1] = Field(default=SCHEMA, alias="schema")

    def to_line(self) -> bytes:
        """One line of JSON (sorted keys, UTF-8, final newline), without an empty note."""
        data = self.model_dump(by_alias=True, exclude={"note"} if not self.note else set())
        return (json.dumps(data, sort_keys=True, ensure_ascii=False) + "\n").encode()

    @classmethod
    def parse(cls, raw: bytes | str, where: str) -> AuditRecord:
        """The record stored at `where`; TargetError naming where a bad one is."""
        try:
            return _parse(cls, raw)
        except ValueError as exc:
            raise TargetError(f"{where}: not a valid audit record ({_first(exc)})") from exc


_Record = TypeVar("_Record", Pointer, AuditRecord)


def _parse(cls: type[_Record], raw: bytes | str) -> _Record:
    data = json.loads(raw)
    if not isinstance(data, dict):
        raise ValueError("not a JSON object")
    return cls.model_validate(data)


def _first(exc: ValueError) -> str:
    """The first problem pydantic or json found, on one line."""
    if isinstance(exc, ValidationError):
        error = exc.errors(include_url=False)[0]
        where = ".".join(str(p) for p in error["loc"])
        return f"{where}: {error['msg']}" if where else str(error["msg"])
    return str(exc).splitlines()[0]


class Target(Protocol):
    """What `mlops deploy` needs from a deployment target."""

    def describe(self) -> str:
        """Where this target is, for messages (`.mlops/deploy/staging`, `s3://b/p`)."""
        ...

    def current(self, model: str) -> Pointer | None:
        """The pointer of `model`, or None when nothing was ever deployed."""
        ...

    def has_version(self, model: str, version: str, files: Mapping[str, str]) -> bool:
        """Whether the version is stored complete: every file present with its sha256,
        hashed from the stored bytes (never from metadata a writer could set)."""
        ...

    def manifest(self, model: str, version: str) -> dict[str, str]:
        """relative path -> sha256 of every file stored for the version, hashed from the
        stored bytes (empty when the version is not stored); `mlops status` compares its
        digest with the pointer's."""
        ...

    def upload(self, model: str, version: str, source: Path, files: Mapping[str, str]) -> None:
        """Store the files of `source` (relative path -> sha256) under the version's own
        key, then read each back and check its sha256. Raise TargetError on a mismatch."""
        ...

    def switch(self, model: str, expected: Pointer | None, new: Pointer) -> None:
        """Point `model` at `new` if it still points at `expected` (atomic compare-and-swap);
        raise PointerConflict when another deploy changed it first."""
        ...

    def append_audit(self, model: str, record: AuditRecord) -> None:
        """Add one record to the model's audit log (never rewrites earlier records)."""
        ...

    def audit(self, model: str) -> list[AuditRecord]:
        """Every audit record of `model`, oldest first."""
        ...

    def last_audit(self, model: str) -> AuditRecord | None:
        """The newest audit record of `model` (what every deploy checks first), without
        reading the others; None when there is none."""
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


def source_file(source: Path, rel: str) -> Path:
    """Where manifest entry `rel` lies: below the folder `source`, or `source` itself
    when it is a one-file artifact (whose manifest is `{source.name: sha256}`)."""
    if source.is_file() and rel == source.name:
        return source
    return source / check_relpath(rel)
