"""Files: written all-or-nothing, read with a bound, hashed one way.

Every generated or edited file goes through `write_all`: content is written to
a temporary file beside the target, flushed to disk, then renamed over it, so a
crash or an error leaves either the old file or the new one, never half. A new
file gets the mode the umask allows (0644 under umask 022), a replaced file
keeps its mode. A path that is not a regular file (`/dev/stdout`, a FIFO, a
device) is written to directly, never replaced by a file.

The sha256 of a file, and of a folder (one sha256 over its sorted manifest of
relative path and file sha256), are computed here and nowhere else.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import os
import re
import stat
import sys
import uuid
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import IO

from runner.errors import UsageError

_BLOCK = 1 << 20


# ------------------------------------------------------------------- writing


def _new_file(path: Path, mode: int = 0o666) -> tuple[int, Path]:
    """Create a hidden, unique, empty file beside `path`; the umask applies to `mode`
    (unlike `tempfile.mkstemp`, which always creates 0600)."""
    while True:
        tmp = path.parent / f".{path.name}.{uuid.uuid4().hex[:8]}.tmp"
        try:
            return os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode), tmp
        except FileExistsError:
            continue


def make_temp_dir(parent: Path, prefix: str, suffix: str = ".tmp") -> Path:
    """Create a unique empty folder in `parent` with the mode the umask allows
    (unlike `tempfile.mkdtemp`, which always creates 0700)."""
    parent.mkdir(parents=True, exist_ok=True)
    while True:
        tmp = parent / f"{prefix}{uuid.uuid4().hex[:8]}{suffix}"
        try:
            os.mkdir(tmp, 0o777)
            return tmp
        except FileExistsError:
            continue


def _stage(path: Path, data: bytes, mode: int | None = None) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = _new_file(path)
    try:
        if mode is not None:
            os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
    except BaseException:
        os.unlink(tmp)
        raise
    return tmp


def write_atomic(path: Path, content: str | bytes, *, keep_mode: bool = True) -> None:
    """Write one file all-or-nothing (see `write_all`)."""
    write_all([(path, content)], keep_mode=keep_mode)


def fsync_dir(path: Path) -> None:
    """Flush a folder's entries (a rename in it) to disk."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _kind(path: Path) -> str:
    """ "new", "file" (a regular file, to replace), "stream" (anything else to write into)."""
    if _inherited_fd(path) is not None:
        return "stream"  # /dev/stdout and friends, even when they lead to a regular file
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return "new"
    if stat.S_ISDIR(st.st_mode):
        raise IsADirectoryError(f"{path} is a folder, not a file")
    return "file" if stat.S_ISREG(st.st_mode) else "stream"


def write_all(files: Sequence[tuple[Path, str | bytes]], *, keep_mode: bool = True) -> None:
    """Write every file or none.

    All contents are staged beside their targets first; then each target is
    replaced in turn, and if one replacement fails the ones already done are
    put back from their backups. A replaced file keeps its mode unless
    `keep_mode` is false (then it gets the umask's, as a new file). Paths that
    are not regular files (a FIFO, a device, `/dev/stdout`) are written to
    directly, after the others.
    """
    staged: list[tuple[Path, Path]] = []
    streams: list[tuple[Path, bytes]] = []
    try:
        for path, content in files:
            data = content.encode("utf-8") if isinstance(content, str) else content
            kind = _kind(path)
            if kind == "stream":
                streams.append((path, data))
                continue
            keep = kind == "file" and keep_mode
            mode = stat.S_IMODE(os.stat(path).st_mode) if keep else None
            staged.append((_stage(path, data, mode), path))
    except BaseException:
        for tmp, _ in staged:
            tmp.unlink(missing_ok=True)
        raise
    done: list[tuple[Path, Path | None]] = []  # (target, backup of its old content)
    try:
        for tmp, path in staged:
            backup = None
            # One file needs no backup: its rename is the all-or-nothing step.
            if len(staged) > 1 and path.exists():
                backup = _stage(path, path.read_bytes(), stat.S_IMODE(os.stat(path).st_mode))
            try:
                os.replace(tmp, path)
            except BaseException:
                if backup is not None:
                    backup.unlink()
                raise
            done.append((path, backup))
    except BaseException:
        for path, backup in reversed(done):
            if backup is None:
                path.unlink(missing_ok=True)
            else:
                os.replace(backup, path)
        for tmp, _ in staged:
            tmp.unlink(missing_ok=True)
        raise
    for _, backup in done:
        if backup is not None:
            backup.unlink()
    for folder in sorted({path.parent for path, _ in done}):
        fsync_dir(folder)
    for path, data in streams:
        write_stream(path, data)


# ------------------------------------------------------- journaled file sets
#
# `write_all` puts old files back when a replacement fails, but a SIGKILL in the
# middle of its renames leaves some files old and some new. A file set that must
# change as one (the compiled files) is written through a journal instead: every
# new content is staged beside its target and flushed, then one small journal
# naming each (temporary file, target) pair and each file to remove is renamed
# into place. That rename is the commit point: before it the old set stands
# (stray temporary files are removed by the next write), after it `recover`
# finishes the renames, whoever is killed when.

_TEMP_NAME = re.compile(r"\.(?P<name>.+)\.[0-9a-f]{8}\.tmp")


def stray_temps(paths: Sequence[Path]) -> list[Path]:
    """Temporary files an interrupted write left beside any of `paths`."""
    names: dict[Path, set[str]] = {}
    for path in paths:
        names.setdefault(path.parent, set()).add(path.name)
    found = []
    for folder, wanted in sorted(names.items()):
        if not folder.is_dir():
            continue
        for entry in sorted(folder.iterdir()):
            match = _TEMP_NAME.fullmatch(entry.name)
            if match and match["name"] in wanted and entry.is_file():
                found.append(entry)
    return found


def recover(journal: Path) -> bool:
    """Finish the journaled write that `journal` records; False when there is none."""
    try:
        entries = json.loads(journal.read_text("utf-8"))
    except FileNotFoundError:
        return False
    except ValueError:
        # The journal itself was never committed (renamed into place): nothing to finish.
        journal.unlink(missing_ok=True)
        return False
    for tmp, target in entries["write"]:
        if os.path.exists(tmp):
            os.replace(tmp, target)
    for target in entries["remove"]:
        Path(target).unlink(missing_ok=True)
    for folder in sorted({str(Path(t).parent) for _, t in entries["write"]}):
        if os.path.isdir(folder):
            fsync_dir(Path(folder))
    journal.unlink()
    return True


def write_journaled(
    files: Sequence[tuple[Path, str | bytes]], remove: Sequence[Path], journal: Path
) -> None:
    """Write `files` and remove `remove` as one change, even under SIGKILL (see above)."""
    recover(journal)
    for stray in stray_temps([*(p for p, _ in files), journal]):
        stray.unlink(missing_ok=True)
    staged: list[tuple[Path, Path]] = []
    try:
        for path, content in files:
            data = content.encode("utf-8") if isinstance(content, str) else content
            kind = _kind(path)  # a folder in the way fails here, before anything changed
            mode = stat.S_IMODE(os.stat(path).st_mode) if kind == "file" else None
            staged.append((_stage(path, data, mode), path))
        body = {
            "write": [[str(tmp.absolute()), str(path.absolute())] for tmp, path in staged],
            "remove": [str(path.absolute()) for path in remove],
        }
        write_atomic(journal, json.dumps(body, indent=1) + "\n")
    except BaseException:
        for tmp, _ in staged:
            tmp.unlink(missing_ok=True)
        raise
    recover(journal)


# ---------------------------------------------------------------- run lock


@contextlib.contextmanager
def hold_lock(path: Path) -> Iterator[None]:
    """Hold an advisory lock (flock) on `path` for the block; released when the
    process ends, however it ends, so a killed holder never leaves it behind."""
    import fcntl

    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def is_locked(path: Path) -> bool:
    """Whether another process holds the lock on `path` (see `hold_lock`)."""
    import fcntl

    try:
        fd = os.open(path, os.O_RDWR)
    except FileNotFoundError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)
    return False


# This process's own open files, by the names Linux and the BSDs give them.
_FD_PATH = re.compile(r"/(?:dev/fd|proc/(?:self|thread-self|\d+)/fd)/(\d+)")


def _inherited_fd(path: Path) -> int | None:
    """N when `path` leads (through symlinks) to /dev/fd/N or /proc/self/fd/N: a file
    this process already has open, such as /dev/stdout."""
    current = os.path.abspath(path)
    for _ in range(40):  # the kernel's own limit on symlink hops
        match = _FD_PATH.fullmatch(current)
        if match and (match[0].split("/")[2] in ("fd", "self", "thread-self", str(os.getpid()))):
            return int(match[1])
        try:
            link = os.readlink(current)
        except OSError:
            return None
        current = os.path.normpath(os.path.join(os.path.dirname(current), link))
    return None


def write_stream(path: Path, data: bytes) -> None:
    """Write `data` into a path that is not a regular file, without replacing it.

    /dev/stdout (or /dev/fd/N) is this process's own descriptor N and is
    written there, after what is already buffered; a FIFO or device is opened
    for writing. A FIFO that nothing reads from is refused rather than waited on.
    """
    fd = _inherited_fd(path)
    if fd is not None:
        for stream in (sys.stdout, sys.stderr):
            try:
                if stream is not None and stream.fileno() == fd:
                    stream.flush()
            except (OSError, ValueError):
                continue
        _write_fd(fd, data)
        return
    try:
        fd = os.open(path, os.O_WRONLY | os.O_NONBLOCK | getattr(os, "O_NOCTTY", 0))
    except OSError as exc:
        if exc.errno == errno.ENXIO:
            raise UsageError(
                f"{path}: nothing reads from this FIFO",
                "start the reader first, or write to a regular file",
            ) from None
        raise
    try:
        os.set_blocking(fd, True)
        _write_fd(fd, data)
    finally:
        os.close(fd)


def _write_fd(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


# ------------------------------------------------------------------- reading


class FileTooLarge(UsageError):
    """A file holds more than the reader's limit (a device or FIFO may never end)."""

    def __init__(self, path: Path, limit: int) -> None:
        super().__init__(
            f"{path} is larger than {limit:,} bytes",
            "name a regular file of the expected size",
        )
        self.path = path
        self.limit = limit


def read_bytes_bounded(path: Path, limit: int) -> bytes:
    """The bytes of `path`, at most `limit` of them; FileTooLarge when there are more.

    Safe on anything a user may name: a device is never read past the limit,
    and a FIFO without a writer reads as empty instead of blocking.
    """
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_NOCTTY", 0))
    try:
        os.set_blocking(fd, True)
        if stat.S_ISDIR(os.fstat(fd).st_mode):
            raise IsADirectoryError(f"{path} is a folder, not a file")
        chunks: list[bytes] = []
        size = 0
        while size <= limit:
            chunk = os.read(fd, min(_BLOCK, limit + 1 - size))
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
    finally:
        os.close(fd)
    if size > limit:
        raise FileTooLarge(path, limit)
    return b"".join(chunks)


def read_text_bounded(path: Path, limit: int, encoding: str = "utf-8") -> str:
    """The text of `path` (see `read_bytes_bounded`)."""
    return read_bytes_bounded(path, limit).decode(encoding)


# ------------------------------------------------------------------- hashing


def sha256_stream(fh: IO[bytes]) -> str:
    """The hex sha256 of everything left in `fh`, read in 1 MiB blocks."""
    h = hashlib.sha256()
    for block in iter(lambda: fh.read(_BLOCK), b""):
        h.update(block)
    return h.hexdigest()


def sha256_fd(fd: int) -> str:
    """The hex sha256 of the whole file open as `fd`, read with `os.pread` (the file's
    position is left alone, so another reader can share it meanwhile). Neither the
    reads nor the hashing of 1 MiB blocks hold the GIL: it runs well on a thread."""
    h = hashlib.sha256()
    offset = 0
    while block := os.pread(fd, _BLOCK, offset):
        h.update(block)
        offset += len(block)
    return h.hexdigest()


def sha256_bytes(data: bytes) -> str:
    """The hex sha256 of `data`."""
    return hashlib.sha256(data).hexdigest()


def sha256_file(path: Path) -> str:
    """The hex sha256 of the file at `path`."""
    with path.open("rb") as fh:
        return sha256_stream(fh)


def manifest(path: Path) -> dict[str, str]:
    """relative path -> sha256 of every file below the folder `path`
    (or `{name: sha256}` when `path` is one file)."""
    if path.is_file():
        return {path.name: sha256_file(path)}
    return {
        p.relative_to(path).as_posix(): sha256_file(p)
        for p in sorted(path.rglob("*"))
        if p.is_file()
    }


def manifest_digest(files: Mapping[str, str]) -> str:
    """One sha256 over a manifest: its `path NUL sha256 LF` lines in sorted order."""
    h = hashlib.sha256()
    for rel in sorted(files):
        h.update(f"{rel}\0{files[rel]}\n".encode())
    return h.hexdigest()


def sha256_path(path: Path) -> str:
    """The sha256 of a file, or of a folder's manifest (`manifest_digest`)."""
    if path.is_file():
        return sha256_file(path)
    return manifest_digest(manifest(path))
