"""Derived data is computed once per command: the workspace, the stage graph, each sweep."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from runner.cli import main
from runner.compile import generated
from runner.project import graph, sweep, workspace

from conftest import build_tree

SWEEP = "sweep:\n  train.max_depth: [2, 5]\nstages:\n"


class Counter:
    """Wrap a module function and count its calls (the real function still runs)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, module: Any, name: str) -> None:
        self.calls = 0
        real: Callable[..., Any] = getattr(module, name)

        def counted(*args: Any, **kwargs: Any) -> Any:
            self.calls += 1
            return real(*args, **kwargs)

        monkeypatch.setattr(module, name, counted)


@pytest.mark.parametrize("swept", [False, True], ids=["plain", "sweep"])
def test_compile_expands_each_pipeline_once(
    example: Path, monkeypatch: pytest.MonkeyPatch, swept: bool
) -> None:
    if swept:
        path = example / "pipelines/iris.yaml"
        text = path.read_text("utf-8").replace("stages:\n", SWEEP, 1)
        # A swept train stage cannot be deployed.
        text = text.partition("deploy:")[0].replace("baseline: production", "baseline: main")
        path.write_text(text, "utf-8")
        (example / "deployments.yaml").write_text("{}\n", "utf-8")
    opened = Counter(monkeypatch, workspace, "load_workspace")
    built = Counter(monkeypatch, graph, "_build")
    expanded = Counter(monkeypatch, sweep, "expand")
    compiled = Counter(monkeypatch, generated, "compile_project")
    assert main(["compile"]) == 0
    assert main(["compile", "--check"]) == 0
    # One workspace per command, one graph and one expansion per workspace, and one
    # compile per command (writing the files does not compile them again).
    assert (opened.calls, built.calls, expanded.calls) == (2, 2, 2)
    assert compiled.calls == 2


PROJECT = {
    "mlops.yaml": "version: 1\nproject: once\n",
    "deployments.yaml": "{}\n",
    "hello.py": (
        "import os\n"
        "os.makedirs('outputs/hello', exist_ok=True)\n"
        "open('outputs/hello/out.txt', 'w').write('hi')\n"
    ),
    "pipelines/hello.yaml": (
        "stages:\n"
        "  say:\n"
        "    cmd: python hello.py\n"
        "    deps: [hello.py]\n"
        "    outs: [outputs/hello/out.txt]\n"
    ),
}


def test_run_opens_the_workspace_and_builds_the_graph_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = build_tree(tmp_path / "project", PROJECT)
    subprocess.run(["git", "init", "-q"], cwd=root, check=True)
    subprocess.run([sys.executable, "-m", "dvc", "init", "-q"], cwd=root, check=True)
    monkeypatch.chdir(root)
    opened = Counter(monkeypatch, workspace, "load_workspace")
    built = Counter(monkeypatch, graph, "_build")
    expanded = Counter(monkeypatch, sweep, "expand")
    assert main(["run"]) == 0
    assert (root / "outputs/hello/out.txt").read_text() == "hi"
    assert (opened.calls, built.calls, expanded.calls) == (1, 1, 1)
