"""The .dvc/config writer: what it writes reads back, section for section, as written."""

from __future__ import annotations

from pathlib import Path

import pytest

from runner.compile.dvcfiles import _check_ini, ini_text
from runner.errors import UsageError


def test_an_injected_section_is_refused() -> None:
    text = (
        "[core]\n    remote = local\n['remote \"local\"']\n    url = x\n[cache]\n    dir = /tmp\n"
    )
    with pytest.raises(UsageError, match="would not read back as written"):
        _check_ini(text, {"core": {"remote": "local"}, "'remote \"local\"'": {"url": "x"}})


def test_a_comment_cutting_the_url_is_refused() -> None:
    text = "[core]\n    remote = local\n['remote \"local\"']\n    url = a #b\n"
    with pytest.raises(UsageError, match="would not read back as written"):
        _check_ini(text, {"core": {"remote": "local"}, "'remote \"local\"'": {"url": "a #b"}})


def test_the_example_reads_back(example: Path) -> None:
    from runner.compile.generated import compile_project
    from runner.project.workspace import open_workspace

    files = dict(compile_project(open_workspace(example)))
    assert "url = ../.mlops/storage" in files[".dvc/config"]


REMOTE = "'remote \"local\"'"


def sections(url: str) -> dict[str, dict[str, str]]:
    return {"core": {"remote": "local"}, REMOTE: {"url": url}}


def test_the_writer_is_configparser_and_dvc_reads_it_back(tmp_path: Path) -> None:
    """The exact text the writer produces, and DVC's own config loader on it."""
    from dvc.config import Config

    text = ini_text(["a comment"], sections("s3://bucket/p?x=1&y=2"))
    assert text == (
        "# a comment\n[core]\nremote = local\n\n['remote \"local\"']\nurl = s3://bucket/p?x=1&y=2\n"
    )
    (tmp_path / ".dvc").mkdir()
    (tmp_path / ".dvc" / "config").write_text(text)
    loaded = Config(dvc_dir=str(tmp_path / ".dvc")).load_one("repo")
    assert loaded["core"] == {"remote": "local"}
    assert loaded["remote"] == {"local": {"url": "s3://bucket/p?x=1&y=2"}}


@pytest.mark.parametrize(
    "url",
    ["s3://bucket/p?x=1&y=2", "a = b", "[x]", "x\\y", "ü/ß", 'a"b', "a ;b", "../.mlops/storage"],
)
def test_what_the_writer_accepts_reads_back_in_dvcs_reader(url: str) -> None:
    from configobj import ConfigObj  # type: ignore[import-untyped]

    read = ConfigObj(ini_text([], sections(url)).splitlines())
    assert dict(read['remote "local"']) == {"url": url}
    assert dict(read["core"]) == {"remote": "local"}


@pytest.mark.parametrize(
    "url, first",
    [
        ("a#b", ".dvc/config would not read back as written: a remote URL changes its meaning"),
        ("a,b", ".dvc/config would not read back as written: a remote URL changes its meaning"),
        ('"q"', ".dvc/config would not read back as written: a remote URL changes its meaning"),
        ('"""', ".dvc/config would not be valid INI: Parse error in multiline value at line 5."),
        (
            "x\n[cache]\ndir = /tmp",
            ".dvc/config: the value of 'url' contains a control character: "
            "'x\\n[cache]\\ndir = /tmp'",
        ),
    ],
    ids=["hash", "comma", "quoted", "triple-quote", "newline"],
)
def test_what_dvcs_reader_would_misread_is_refused(url: str, first: str) -> None:
    with pytest.raises(UsageError) as info:
        ini_text([], sections(url))
    assert str(info.value) == first
