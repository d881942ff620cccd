"""A deployment target in a folder: immutable version folders and an atomic pointer.

Per model: `<model>/versions/<version>/<files>` (complete versions only),
`<model>/current.json` (the pointer, replaced atomically), `<model>/audit.jsonl`
(one JSON object per line, fsynced), `<model>/.lock` (a `filelock` held for a
whole deploy; `.lock.holder` says by whom) and `<model>/.state.lock` (held for
one switch or append: flock locks belong to open files, so a deploy holding
`.lock` must use another). Files and folders get the umask's modes, so a model
server running as another user can read them.
A version is copied into a hidden `.tmp` folder beside its final name, checked,
then renamed into place: a crash leaves a leftover that blocks nothing.
"""

from __future__ import annotations

import os
import shutil
import socket
import time
from collections.abc import Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager, suppress
from pathlib import Path
from typing import IO

import filelock

from runner.config.targets import TargetConfig
from runner.deploy.targets.base import (
    LOCK_TIMEOUT,
    AuditRecord,
    Pointer,
    PointerConflict,
    TargetError,
    check_name,
    check_relpath,
    source_file,
)
from runner.fsutil import (
    fsync_dir,
    make_temp_dir,
    manifest,
    read_bytes_bounded,
    sha256_file,
    write_atomic,
)

POINTER_LIMIT = 1 << 20  # bytes; a pointer is a few hundred


def _copy(src: Path, dst: Path) -> str:
    """Copy `src` to `dst`, flushed to disk; return the sha256 of the bytes copied."""
    with src.open("rb") as fin, dst.open("xb") as fout:
        shutil.copyfileobj(fin, fout, 1 << 20)
        fout.flush()
        os.fsync(fout.fileno())
    return sha256_file(dst)


@contextmanager
def _locked(path: Path, timeout: float, busy: str) -> Iterator[None]:
    """Hold the file lock `path` (waiting up to `timeout` s); TargetError after, naming
    the holder that `<path>.holder` records."""
    holder = path.with_name(path.name + ".holder")
    lock = filelock.FileLock(path, timeout=timeout)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        lock.acquire()
    except filelock.Timeout:
        try:
            who = read_bytes_bounded(holder, 4096).decode("utf-8", "replace").strip()
        except OSError:
            who = ""
        raise TargetError(
            f"{busy} (waited {timeout:g} s; holder: {who or 'unknown'})",
            "wait for the other `mlops deploy` to finish, then run it again",
        ) from None
    except OSError as exc:
        hint = "check that the target folder exists and is writable"
        raise TargetError(f"cannot open {path}: {exc.strerror or exc}", hint) from exc
    try:
        yield
    finally:
        lock.release()


class DirectoryTarget:
    """A target kept in a folder on this machine or a mounted share."""

    def __init__(self, path: Path, *, label: str = "", lock_timeout: float = LOCK_TIMEOUT):
        self.path = path
        self.label = label or str(path)
        self.lock_timeout = lock_timeout

    @classmethod
    def from_config(
        cls, config: TargetConfig, root: Path, *, lock_timeout: float = LOCK_TIMEOUT
    ) -> DirectoryTarget:
        """Open the target of a `kind: directory` config; a relative path is below `root`."""
        if config.kind != "directory":
            raise TypeError(f"not a directory target config: {config!r}")
        path = root / Path(config.path).expanduser()
        return cls(path, label=config.path, lock_timeout=lock_timeout)

    def describe(self) -> str:
        return self.label

    def _model_dir(self, model: str) -> Path:
        return self.path / check_name("model", model)

    def _version_dir(self, model: str, version: str) -> Path:
        return self._model_dir(model) / "versions" / check_name("version", version)

    @contextmanager
    def _io(self, action: str) -> Iterator[None]:
        """Report an OS error as a TargetError that says which file and what failed."""
        try:
            yield
        except TargetError:
            raise
        except OSError as exc:
            where = f": {exc.filename}" if exc.filename else ""
            raise TargetError(
                f"{self.label}: cannot {action}{where}: {exc.strerror or exc}",
                "check that the target folder exists, is writable and has free space",
            ) from exc

    def _state_lock(self, model: str) -> AbstractContextManager[None]:
        busy = f"{self.label}: the pointer of {model} stays locked"
        return _locked(self._model_dir(model) / ".state.lock", self.lock_timeout, busy)

    def has_version(self, model: str, version: str, files: Mapping[str, str]) -> bool:
        folder = self._version_dir(model, version)
        with self._io(f"read version {version} of {model}"):
            for rel, sha in files.items():
                path = folder / check_relpath(rel)
                if not path.is_file() or sha256_file(path) != sha:
                    return False
        return folder.is_dir()

    def manifest(self, model: str, version: str) -> dict[str, str]:
        folder = self._version_dir(model, version)
        with self._io(f"read version {version} of {model}"):
            return manifest(folder) if folder.is_dir() else {}

    def upload(self, model: str, version: str, source: Path, files: Mapping[str, str]) -> None:
        final = self._version_dir(model, version)
        if not files:
            raise TargetError(f"{self.label}: version {version} of {model} has no files")
        if final.exists():
            if self.has_version(model, version, files):
                return  # already stored, byte for byte
            raise TargetError(
                f"{self.label}: version {version} of {model} is already stored "
                "with different files",
                f"versions are immutable: register a new version (or remove {final} "
                "by hand if it is known to be bad)",
            )
        with self._io(f"upload version {version} of {model}"):
            # Folders and files get the umask's modes, so a server running as another
            # user can read them.
            tmp = make_temp_dir(final.parent, f".{version}.")
            try:
                self._fill(tmp, source, files)
                try:
                    os.rename(tmp, final)
                except OSError:
                    # Another deploy renamed the same version in first; fine if it matches.
                    if not self.has_version(model, version, files):
                        raise
                    return
                fsync_dir(final.parent)
            finally:
                shutil.rmtree(tmp, ignore_errors=True)

    def _fill(self, tmp: Path, source: Path, files: Mapping[str, str]) -> None:
        """Copy every file into `tmp`, checking each copy's sha256 before anything is
        published; a mismatch means the source changed after its manifest was made."""
        for rel in sorted(files):
            dst = tmp / check_relpath(rel)
            dst.parent.mkdir(parents=True, exist_ok=True)
            src = source_file(source, rel)
            try:
                got = _copy(src, dst)
            except OSError as exc:
                if exc.filename is not None:
                    raise
                # A failed write (a full disk) names no file: name the one being stored.
                raise OSError(exc.errno, exc.strerror, rel) from exc
            if got != files[rel]:
                raise TargetError(
                    f"{src}: sha256 mismatch: expected {files[rel][:12]}…, got {got[:12]}…",
                    "the source bytes differ from the manifest; nothing was uploaded",
                )
        for folder in sorted({p.parent for p in tmp.rglob("*")}, reverse=True):
            fsync_dir(folder)

    def read_file(self, model: str, version: str, relpath: str) -> bytes:
        path = self._version_dir(model, version) / check_relpath(relpath)
        with self._io(f"read {relpath} of {model} {version}"):
            return path.read_bytes()

    def current(self, model: str) -> Pointer | None:
        path = self._model_dir(model) / "current.json"
        with self._io(f"read the pointer of {model}"):
            try:
                raw = read_bytes_bounded(path, POINTER_LIMIT)
            except FileNotFoundError:
                return None
        return Pointer.parse(raw, str(path))

    def switch(self, model: str, expected: Pointer | None, new: Pointer) -> None:
        if new.model != model:
            raise TargetError(f"{self.label}: pointer for {new.model!r} given for {model!r}")
        if not self._version_dir(model, new.version).is_dir():
            raise TargetError(
                f"{self.label}: version {new.version} of {model} is not stored",
                "upload the version before switching to it",
            )
        with self._io(f"switch the pointer of {model}"), self._state_lock(model):
            now = self.current(model)
            if now != expected:
                raise PointerConflict(
                    f"{self.label}: {model} now points at "
                    f"{now.version if now else 'nothing'}, not "
                    f"{expected.version if expected else 'nothing'}",
                    "another deploy changed it first; run `mlops deploy` again to converge",
                )
            write_atomic(self._model_dir(model) / "current.json", new.to_bytes(), keep_mode=False)

    def append_audit(self, model: str, record: AuditRecord) -> None:
        line = record.to_line()
        path = self._model_dir(model) / "audit.jsonl"
        with self._io(f"append to {path.name}"), self._state_lock(model):
            with path.open("a+b") as fh:
                _drop_torn_tail(fh)
                fh.write(line)
                fh.flush()
                os.fsync(fh.fileno())
            fsync_dir(path.parent)

    def audit(self, model: str) -> list[AuditRecord]:
        path = self._model_dir(model) / "audit.jsonl"
        with self._io(f"read {path.name}"):
            try:
                data = path.read_bytes()
            except FileNotFoundError:
                return []
        # The last piece is empty, or a line cut short by a crash: not a record.
        return [
            AuditRecord.parse(raw, f"{path}:{number}")
            for number, raw in enumerate(data.split(b"\n")[:-1], start=1)
        ]

    def last_audit(self, model: str) -> AuditRecord | None:
        records = self.audit(model)  # one local file: reading it all is cheap
        return records[-1] if records else None

    @contextmanager
    def lock(self, model: str) -> Iterator[None]:
        busy = f"{self.label}: another deploy of {model} holds its lock"
        path = self._model_dir(model) / ".lock"
        with _locked(path, self.lock_timeout, busy):
            # Who holds it, for the message another deploy shows when it gives up.
            since = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
            holder = path.with_name(".lock.holder")
            with self._io(f"record who holds the lock of {model}"):
                write_atomic(holder, f"pid {os.getpid()} on {socket.gethostname()} since {since}\n")
            try:
                yield
            finally:
                with suppress(OSError):
                    holder.unlink()


def _drop_torn_tail(fh: IO[bytes]) -> None:
    """Cut a last line left unterminated by a crash, so the next record starts clean."""
    end = fh.seek(0, os.SEEK_END)
    if end and os.pread(fh.fileno(), 1, end - 1) != b"\n":
        fh.seek(0)
        fh.truncate(fh.read().rfind(b"\n") + 1)
