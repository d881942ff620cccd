"""Writing files all-or-nothing.

Every generated or edited file goes through here: content is written to a
temporary file beside the target, flushed to disk, then renamed over it, so a
crash or an error leaves either the old file or the new one, never half.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Sequence
from pathlib import Path


def _stage(path: Path, data: bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
    except BaseException:
        os.unlink(tmp)
        raise
    return Path(tmp)


def write_atomic(path: Path, text: str) -> None:
    write_all([(path, text)])


def write_all(files: Sequence[tuple[Path, str]]) -> None:
    """Write every file or none.

    All contents are staged beside their targets first; then each target is
    replaced in turn, and if one replacement fails the ones already done are
    put back from their backups.
    """
    staged: list[tuple[Path, Path]] = []
    try:
        for path, text in files:
            if path.is_dir():
                raise IsADirectoryError(f"{path} is a folder, not a file")
            staged.append((_stage(path, text.encode("utf-8")), path))
    except BaseException:
        for tmp, _ in staged:
            tmp.unlink(missing_ok=True)
        raise
    done: list[tuple[Path, Path | None]] = []  # (target, backup of its old content)
    try:
        for tmp, path in staged:
            backup = None
            if path.exists():
                backup = _stage(path, path.read_bytes())
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
