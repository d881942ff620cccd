"""Whether the DVC remote holds every run-cache entry of this clone, after a push.

`dvc push --run-cache` copies each entry with DVC's `log_exceptions` wrapper: a
failed copy is logged and the push still exits 0. A job that shares its work
through the remote must know, so after pushing we list the remote's entries once
and compare.
"""

from __future__ import annotations

from pathlib import Path


def unshared(root: Path) -> list[str]:
    """Run-cache entries (`runs/<xx>/<key>/<value>`) this clone has and the remote lacks."""
    from dvc.repo import Repo

    with Repo(str(root)) as repo:
        local = repo.cache.legacy
        remote = repo.cloud.get_remote_odb(None, "push --run-cache", hash_name="md5-dos2unix")
        mine = _entries(local.fs, local.path)
        if not mine:
            return []
        theirs = set(_entries(remote.fs, remote.path))
    return sorted(entry for entry in mine if entry not in theirs)


def _entries(fs: object, base: str) -> list[str]:
    """Every file under `<base>/runs`, relative to `base`, with `/`."""
    runs = fs.join(base, "runs")  # type: ignore[attr-defined]
    if not fs.exists(runs):  # type: ignore[attr-defined]
        return []
    found = fs.find(runs)  # type: ignore[attr-defined]
    return [fs.relpath(path, base).replace("\\", "/") for path in found]  # type: ignore[attr-defined]
