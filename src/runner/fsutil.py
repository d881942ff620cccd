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
    """Write every file or none: all contents are staged before the first rename."""
    staged: list[tuple[Path, Path]] = []
    try:
        for path, text in files:
            staged.append((_stage(path, text.encode("utf-8")), path))
    except BaseException:
        for tmp, _ in staged:
            tmp.unlink(missing_ok=True)
        raise
    for tmp, path in staged:
        os.replace(tmp, path)
