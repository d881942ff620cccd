"""The .dvc/config writer: what it writes reads back, section for section, as written."""

from __future__ import annotations

from pathlib import Path

import pytest

from runner.compile.dvcfiles import _check_ini
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
