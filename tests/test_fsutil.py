"""fsutil: file modes, paths that are not regular files, bounded reads, the one sha256."""

from __future__ import annotations

import hashlib
import os
import stat
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from runner.compile.generated import compile_project
from runner.deploy.desired import set_version
from runner.errors import UsageError
from runner.fsutil import (
    FileTooLarge,
    make_temp_dir,
    manifest,
    manifest_digest,
    read_bytes_bounded,
    read_text_bounded,
    sha256_file,
    sha256_path,
    write_all,
    write_atomic,
)
from runner.project.workspace import open_workspace

from conftest import build_tree, run_cli


@pytest.fixture
def umask() -> Iterator[None]:
    """Umask 022, as on most machines, whatever the test runner had."""
    old = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(old)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


# --------------------------------------------------------------------- modes


@pytest.mark.usefixtures("umask")
def test_new_files_follow_the_umask(tmp_path: Path) -> None:
    write_atomic(tmp_path / "a.txt", "a\n")
    write_all([(tmp_path / "b" / "b.txt", "b\n"), (tmp_path / "c.bin", b"\x00")])
    assert [mode(tmp_path / p) for p in ("a.txt", "b/b.txt", "c.bin")] == [0o644] * 3
    os.umask(0o027)
    write_atomic(tmp_path / "d.txt", "d\n")
    assert mode(tmp_path / "d.txt") == 0o640
    assert (tmp_path / "d.txt").read_text() == "d\n"


@pytest.mark.usefixtures("umask")
def test_replaced_files_keep_their_mode(tmp_path: Path) -> None:
    build_tree(tmp_path, {"private": "old", "script": "old", "one": "old"})
    (tmp_path / "private").chmod(0o600)
    (tmp_path / "script").chmod(0o755)
    write_all([(tmp_path / "private", "new"), (tmp_path / "script", "new")])
    assert (mode(tmp_path / "private"), mode(tmp_path / "script")) == (0o600, 0o755)
    (tmp_path / "one").chmod(0o640)
    write_atomic(tmp_path / "one", "new")
    assert mode(tmp_path / "one") == 0o640
    write_atomic(tmp_path / "one", "newer", keep_mode=False)  # as a new file
    assert mode(tmp_path / "one") == 0o644
    assert sorted(p.name for p in tmp_path.iterdir()) == ["one", "private", "script"]


@pytest.mark.usefixtures("umask")
def test_temp_dirs_follow_the_umask(tmp_path: Path) -> None:
    folder = make_temp_dir(tmp_path / "x", ".v1.")
    assert folder.parent == tmp_path / "x" and folder.name.startswith(".v1.")
    assert mode(folder) == 0o755


@pytest.mark.usefixtures("umask")
def test_compiled_files_are_readable_by_others(example: Path) -> None:
    result = run_cli("compile", cwd=example)
    assert result.returncode == 0, result.stderr
    written = compile_project(open_workspace(example))
    assert written
    assert {p: mode(example / p) for p, _ in written} == {p: 0o644 for p, _ in written}


@pytest.mark.usefixtures("umask")
def test_deployments_yaml_keeps_its_mode_after_promote(example: Path) -> None:
    path = example / "deployments.yaml"
    assert mode(path) == 0o644
    set_version(example, "production", "iris-classifier", "v0.1.0")
    assert "iris-classifier: v0.1.0" in path.read_text()
    assert mode(path) == 0o644
    path.chmod(0o664)  # a group-writable checkout stays so
    set_version(example, "production", "iris-classifier", "v0.2.0")
    assert mode(path) == 0o664


# ------------------------------------------------------- not a regular file


def _read_fifo(path: Path, into: list[bytes]) -> threading.Thread:
    def read() -> None:
        with path.open("rb") as fh:
            into.append(fh.read())

    thread = threading.Thread(target=read)
    thread.start()
    return thread


def test_a_fifo_is_written_into_not_replaced(tmp_path: Path) -> None:
    fifo = tmp_path / "report.md"
    os.mkfifo(fifo)
    got: list[bytes] = []
    reader = _read_fifo(fifo, got)
    try:
        for _ in range(500):  # until the reader has opened it
            try:
                write_atomic(fifo, "# report\n")
                break
            except UsageError:
                threading.Event().wait(0.01)
    finally:
        reader.join(10)
    assert got == [b"# report\n"]
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.md"]  # no leftover


def test_a_fifo_without_a_reader_is_refused(tmp_path: Path) -> None:
    fifo = tmp_path / "report.md"
    os.mkfifo(fifo)
    with pytest.raises(UsageError) as info:
        write_atomic(fifo, "# report\n")
    assert str(info.value) == f"{fifo}: nothing reads from this FIFO"
    assert info.value.hint == "start the reader first, or write to a regular file"
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)


_WRITE_TO_FD_1 = """
import sys
from pathlib import Path
from runner.fsutil import write_atomic
sys.stdout.write("before\\n")
write_atomic(Path(sys.argv[1]), "report\\n")
sys.stdout.write("after\\n")
"""


@pytest.mark.parametrize("name", ["/dev/fd/1", "/proc/self/fd/1"])
def test_the_process_own_stdout_is_written_in_order(tmp_path: Path, name: str) -> None:
    """/dev/stdout is the same link into /proc/self/fd; the names here are used because a
    broken writer could not replace them (it cannot create files in /proc)."""
    piped = subprocess.run(
        [sys.executable, "-c", _WRITE_TO_FD_1, name], capture_output=True, text=True, check=False
    )
    assert (piped.returncode, piped.stdout) == (0, "before\nreport\nafter\n"), piped.stderr
    out = tmp_path / "out.txt"
    with out.open("w") as fh:  # stdout a regular file: written there, not replaced
        subprocess.run([sys.executable, "-c", _WRITE_TO_FD_1, name], stdout=fh, check=True)
    assert out.read_text() == "before\nreport\nafter\n"


def test_gate_markdown_to_stdout_is_written_to_the_stream(example: Path) -> None:
    """`mlops gate --markdown /dev/stdout`, spelled /dev/fd/1 (see above)."""
    result = run_cli("gate", "iris", "--markdown", "/dev/fd/1", cwd=example)
    assert result.returncode == 1, result.stderr  # nothing trained: the gate fails
    assert result.stdout.startswith("### ❌ iris: gate FAILED\n")  # the markdown, then text
    assert result.stderr.startswith("error: gate failed for iris: accuracy min 0.9: ")


# -------------------------------------------------------------------- reading


def test_bounded_reads(tmp_path: Path) -> None:
    path = tmp_path / "small.txt"
    path.write_text("héllo\n", encoding="utf-8")
    assert read_text_bounded(path, 7) == "héllo\n"
    with pytest.raises(FileTooLarge) as info:
        read_bytes_bounded(path, 6)
    assert str(info.value) == f"{path} is larger than 6 bytes"
    with pytest.raises(FileTooLarge):
        read_bytes_bounded(Path("/dev/zero"), 1 << 16)  # a device that never ends
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    assert read_bytes_bounded(fifo, 100) == b""  # no writer: empty, not blocked
    with pytest.raises(IsADirectoryError):
        read_bytes_bounded(tmp_path, 100)
    with pytest.raises(FileNotFoundError):
        read_bytes_bounded(tmp_path / "absent", 100)


# -------------------------------------------------------------------- hashing


def _old_folder_digest(path: Path) -> str:
    """The folder digest as `runner.steps.runtime.digest` computed it before."""
    h = hashlib.sha256()
    for item in sorted(p for p in path.rglob("*") if p.is_file()):
        sha = hashlib.sha256(item.read_bytes()).hexdigest()
        h.update(f"{item.relative_to(path).as_posix()}\0{sha}\n".encode())
    return h.hexdigest()


def test_one_sha256_for_files_and_folders(tmp_path: Path) -> None:
    tree = {
        "model.skops": b"weights" * 1000,
        "meta.json": b"{}\n",
        "sub/params.json": b'{"a": 1}\n',
        "big.bin": os.urandom(3 << 20),  # more than one read block
    }
    folder = build_tree(tmp_path / "model", tree)
    files = manifest(folder)
    assert files == {rel: hashlib.sha256(data).hexdigest() for rel, data in tree.items()}
    assert sha256_path(folder) == manifest_digest(files) == _old_folder_digest(folder)
    one = folder / "big.bin"
    assert sha256_path(one) == sha256_file(one) == hashlib.sha256(tree["big.bin"]).hexdigest()
    assert manifest(one) == {"big.bin": files["big.bin"]}


def test_a_config_file_that_never_ends_is_refused(example: Path) -> None:
    """A device in place of a config file is refused before any read (it would never end)."""
    desired = example / "deployments.yaml"
    desired.unlink()
    desired.symlink_to("/dev/zero")
    result = run_cli("validate", cwd=example)
    assert result.returncode == 2
    assert result.stderr == (
        "deployments.yaml: error: not a regular file (a device)\n"
        "  hint: replace deployments.yaml with a plain YAML file\n"
    )
