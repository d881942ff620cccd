"""`git.for_each_ref`: every tag and its whole message from one `git for-each-ref` call.

The registry reads all versions through it, so its parsing of git's NUL-separated
output is tested on the messages that break naive parsers: several paragraphs,
none at all, no final newline, bytes that are not UTF-8, and lightweight tags.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from runner import git
from runner.errors import UsageError
from runner.registry import versions

FIELDS = ("refname", "objecttype", "*objectname", "contents")


def sh(root: Path, *args: str, input: bytes | None = None) -> str:
    done = subprocess.run(["git", *args], cwd=root, input=input, capture_output=True, check=True)
    return done.stdout.decode().strip()


def mktag(root: Path, name: str, commit: str, message: bytes | None) -> None:
    """An annotated tag written object by object, so its message is exactly `message`."""
    head = f"object {commit}\ntype commit\ntag {name}\ntagger T <t@example.com> 1 +0000\n"
    body = head.encode() + (b"\n" + message if message is not None else b"")
    obj = sh(root, "mktag", input=body)
    sh(root, "update-ref", f"refs/tags/{name}", obj)


@pytest.fixture
def repo(tmp_path: Path) -> tuple[Path, str]:
    sh(tmp_path, "init", "-q", "-b", "main")
    sh(tmp_path, "commit", "-q", "--allow-empty", "-m", "first")
    return tmp_path, sh(tmp_path, "rev-parse", "HEAD")


def test_messages_read_whole(repo: tuple[Path, str]) -> None:
    root, commit = repo
    mktag(root, "m@v0.1.0", commit, b'summary\n\n{\n  "a": 1\n}\n\nlast paragraph\n')
    mktag(root, "m@v0.2.0", commit, None)  # no message at all
    mktag(root, "m@v0.3.0", commit, b"no final newline")
    mktag(root, "m@v0.4.0", commit, b"summary\n\nbad \xff\xfe bytes\n")
    sh(root, "tag", "m@v0.5.0")  # lightweight
    rows = git.for_each_ref(root, ["refs/tags/m@v*"], FIELDS)
    got = {row[0]: row[1:] for row in rows}
    assert list(got) == [f"refs/tags/m@v0.{n}.0" for n in range(1, 6)]
    assert got["refs/tags/m@v0.1.0"] == [
        "tag",
        commit,
        'summary\n\n{\n  "a": 1\n}\n\nlast paragraph\n',
    ]
    assert got["refs/tags/m@v0.2.0"] == ["tag", commit, ""]
    assert got["refs/tags/m@v0.3.0"][2].startswith("no final newline")
    bad = got["refs/tags/m@v0.4.0"][2]
    assert not git.is_utf8(bad)
    assert bad.encode("utf-8", "surrogateescape") == b"summary\n\nbad \xff\xfe bytes\n"
    # A lightweight tag names the commit itself, which peels to nothing.
    assert got["refs/tags/m@v0.5.0"] == ["commit", "", "first\n"]


def test_versions_from_those_tags(repo: tuple[Path, str]) -> None:
    root, commit = repo
    mktag(root, "m@v0.2.0", commit, None)
    mktag(root, "m@v0.4.0", commit, b"summary\n\nbad \xff bytes\n")
    sh(root, "tag", "m@v0.5.0")
    found = versions.list_versions(root, "m")
    # The lightweight tag is not a version; the others are, with their messages.
    assert [(v.version, v.commit) for v in found] == [("v0.2.0", commit), ("v0.4.0", commit)]
    with pytest.raises(UsageError, match=r"m@v0\.2\.0: its message holds no JSON version record"):
        _ = found[0].record
    with pytest.raises(UsageError, match=r"m@v0\.4\.0: its message is not UTF-8 text"):
        _ = found[1].record


def test_no_matching_ref_and_no_fields(repo: tuple[Path, str]) -> None:
    root, _ = repo
    assert git.for_each_ref(root, ["refs/tags/none@v*"], FIELDS) == []
    assert git.for_each_ref(root, ["refs/tags/*"], ()) == []
