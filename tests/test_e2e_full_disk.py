"""End to end: a directory target on a disk that fills up while the deploy holds its lock.

The target folder is a real tmpfs mounted by the test (`mount -t tmpfs -o
size=...`), so the kernel answers ENOSPC; nothing is faked. Without the right to
mount (not root, no CAP_SYS_ADMIN) the tests are skipped, saying so.
Each case: exit 1 with a one-line message naming the target, the step and the
cause, and what the target serves; no traceback; nothing half-written (no
temporary file or folder, no partial version); the pointer unmoved; the lock
released, which the next deploy proves by converging once there is room.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from conftest import Sh, copy_template

pytestmark = pytest.mark.slow

MODEL = "iris-classifier"


@pytest.fixture(scope="module")
def sh(tmp_path_factory: pytest.TempPathFactory) -> Sh:
    return Sh(tmp_path_factory.mktemp("home"))


@pytest.fixture(scope="module")
def repo(tmp_path_factory: pytest.TempPathFactory, sh: Sh, trained_template: Path) -> Path:
    """The trained example with v0.1.0 registered; staging is the folder `disk/staging`."""
    root = copy_template(trained_template, tmp_path_factory.mktemp("full-disk") / "demo")
    sh("mlops", "register", "iris", cwd=root)
    text = (root / "mlops.yaml").read_text()
    text = re.sub(
        r"(  staging:\n    target: ).*\n", r"\g<1>{kind: directory, path: disk/staging}\n", text
    )
    (root / "mlops.yaml").write_text(text)
    (root / "deployments.yaml").write_text(f"staging:\n  {MODEL}: v0.1.0\n")
    return root


def _mount(folder: Path, size: str) -> None:
    subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(folder)],
        check=True,
        capture_output=True,
        text=True,
    )


@pytest.fixture
def disk(repo: Path) -> Iterator[Path]:
    """`repo/disk`, a fresh 64 KiB tmpfs; unmounted at the end."""
    folder = repo / "disk"
    folder.mkdir(exist_ok=True)
    try:
        _mount(folder, "64k")
    except (OSError, subprocess.CalledProcessError) as exc:
        reason = getattr(exc, "stderr", "") or str(exc)
        pytest.skip(f"cannot mount a small tmpfs to fill up here: {reason.strip()}")
    try:
        yield folder
    finally:
        subprocess.run(["umount", str(folder)], check=False, capture_output=True)


def grow(folder: Path, size: str) -> None:
    subprocess.run(
        ["mount", "-o", f"remount,size={size}", str(folder)], check=True, capture_output=True
    )


def deploy(sh: Sh, repo: Path) -> subprocess.CompletedProcess[str]:
    return sh("mlops", "deploy", "--env", "staging", cwd=repo, check=False)


def leftovers(home: Path) -> list[str]:
    """Hidden temporaries of the target's writers (`.x.tmp` files and folders)."""
    return sorted(p.name for p in home.rglob("*") if p.name.endswith(".tmp"))


def test_a_version_that_does_not_fit(repo: Path, sh: Sh, disk: Path) -> None:
    result = deploy(sh, repo)
    assert result.returncode == 1
    first = result.stderr.splitlines()[0]
    assert re.fullmatch(
        rf"staging: {MODEL}: FAILED: disk/staging: cannot upload version v0\.1\.0 of {MODEL}: "
        rf"\S+: No space left on device; nothing was switched: disk/staging serves {MODEL} "
        "nothing",
        first,
    ), first
    assert "Traceback" not in result.stderr
    home = disk / "staging" / MODEL
    assert leftovers(home) == []
    assert list((home / "versions").iterdir()) == []
    assert not (home / "current.json").exists()
    assert not (home / ".lock.holder").exists()

    grow(disk, "16m")
    assert deploy(sh, repo).stdout == f"staging: {MODEL} (none) -> v0.1.0\n"


def test_a_pointer_that_does_not_fit(repo: Path, sh: Sh, disk: Path) -> None:
    """The version is stored (an earlier deploy stopped after uploading it); the disk then
    has one page left, which the lock's holder note takes: the pointer cannot be written."""
    grow(disk, "16m")
    home = disk / "staging" / MODEL
    assert deploy(sh, repo).returncode == 0
    for name in ("current.json", "audit.jsonl"):
        (home / name).unlink()  # as if it had stopped right after the upload
    stat = os.statvfs(disk)
    (disk / "filler").write_bytes(b"\0" * (stat.f_bavail * stat.f_frsize - 4096))

    result = deploy(sh, repo)
    assert result.returncode == 1
    lines = result.stderr.splitlines()
    assert re.fullmatch(
        rf"staging: {MODEL}: FAILED: disk/staging: cannot switch the pointer of {MODEL}: "
        rf"(\S+: )?No space left on device; nothing was switched: disk/staging serves "
        rf"{MODEL} nothing",
        lines[0],
    ), lines[0]
    assert lines[2] == "error: 1 deployment(s) failed; the previous versions keep serving"
    assert not (home / "current.json").exists()
    assert leftovers(home) == []
    assert not (home / ".lock.holder").exists()

    (disk / "filler").unlink()
    assert deploy(sh, repo).stdout == f"staging: {MODEL} (none) -> v0.1.0\n"
    pointer = json.loads((home / "current.json").read_text())
    assert pointer["version"] == "v0.1.0"
