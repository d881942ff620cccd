"""End to end: custom `cmd` stages in real git + DVC repositories, no training.

Pipelines whose last stage writes nothing, and `${...}` in commands that DVC fills in
at run time, so `dvc exp run -S` reaches the command.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from conftest import Sh, build_tree, git_commit

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def sh(tmp_path_factory: pytest.TempPathFactory) -> Sh:
    return Sh(tmp_path_factory.mktemp("home"))


MAKE_CHECK = """\
params:
  ratio: 0.2
stages:
  make:
    cmd: python make.py ${ratio}
    deps: [make.py]
    outs: [out/made.txt]
  check:
    cmd: python check.py
    deps: [check.py, out/made.txt]
"""

MAKE_PY = """\
import os, sys
os.makedirs("out", exist_ok=True)
open("out/made.txt", "w").write(sys.argv[1])
"""

CHECK_PY = """\
open("checked.txt", "w").write(open("out/made.txt").read())
"""


def custom_project(root: Path, sh: Sh, pipelines: dict[str, str]) -> Path:
    """An `mlops init` project whose only pipelines are `pipelines`, committed."""
    sh("mlops", "init", str(root), cwd=root.parent)
    (root / "pipelines/iris.yaml").unlink()
    (root / "deployments.yaml").unlink()
    build_tree(
        root,
        {"make.py": MAKE_PY, "check.py": CHECK_PY}
        | {f"pipelines/{name}.yaml": text for name, text in pipelines.items()},
    )
    git_commit(sh, root, "custom stages")
    return root


def test_a_last_stage_without_outputs_runs_under_mlops_run(tmp_path: Path, sh: Sh) -> None:
    root = custom_project(tmp_path / "p", sh, {"mc": MAKE_CHECK})
    result = sh("mlops", "run", cwd=root)
    assert (root / "out/made.txt").read_text() == "0.2"
    assert (root / "checked.txt").read_text() == "0.2"
    assert "2 ran" not in result.stdout or "0 failed" in result.stdout
    assert "running mc:check" in result.stderr
    again = sh("mlops", "run", cwd=root)
    assert "0 ran" in again.stdout
    assert "didn't change" not in again.stderr + again.stdout


def test_a_last_stage_without_outputs_runs_under_plain_dvc_repro(tmp_path: Path, sh: Sh) -> None:
    root = custom_project(tmp_path / "p", sh, {"mc": MAKE_CHECK})
    sh("mlops", "compile", cwd=root)
    sh("dvc", "repro", cwd=root)
    assert (root / "checked.txt").read_text() == "0.2"
    status = sh("dvc", "status", cwd=root)
    assert "up to date" in status.stdout


def test_exp_run_set_reaches_the_command(tmp_path: Path, sh: Sh) -> None:
    root = custom_project(tmp_path / "p", sh, {"mc": MAKE_CHECK})
    sh("mlops", "run", cwd=root)
    git_commit(sh, root, "first run")
    sh("dvc", "exp", "run", "-S", "mc.ratio=0.7", cwd=root)
    assert (root / "out/made.txt").read_text() == "0.7"
    assert (root / "checked.txt").read_text() == "0.7"
