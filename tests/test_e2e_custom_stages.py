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
    assert result.stdout.startswith("\n3 ran, 0 restored from the run-cache, 0 up to date")
    assert "running mc:check" in result.stderr
    assert "WARNING" not in result.stderr
    again = sh("mlops", "run", cwd=root)
    assert again.stdout.startswith("\n0 ran, 0 restored from the run-cache, 3 up to date")
    # DVC's own lines ("didn't change, skipping", "Data and pipelines are up to date.")
    # are progress events, never echoed.
    assert again.stderr.splitlines() == [
        "[1/3] up to date mc:make",
        "[2/3] up to date mc:check",
        "[3/3] up to date mc",
    ]


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


def test_an_experiment_becomes_a_yaml_diff(tmp_path: Path, sh: Sh) -> None:
    pipeline = (
        "# the mc pipeline\nparams:\n  ratio: 0.2       # share of rows\n"
        + (MAKE_CHECK.split("\n", 2)[2])
    )
    root = custom_project(tmp_path / "p", sh, {"mc": pipeline})
    sh("mlops", "run", cwd=root)
    git_commit(sh, root, "first run")
    sh("dvc", "exp", "run", "-S", "mc.ratio=0.7", cwd=root)
    # The experiment's value is not thrown away by the next compile or run.
    for verb in ("compile", "run"):
        refused = sh("mlops", verb, cwd=root, check=False)
        assert refused.returncode == 2
        assert refused.stderr.startswith(
            "error: params.yaml was changed outside pipelines/*.yaml (dvc exp run -S or dvc "
            "exp apply): mc.ratio=0.7 (pipelines/mc.yaml: 0.2)\n"
        )
    assert (root / "out/made.txt").read_text() == "0.7"
    sh("mlops", "params", "pull", cwd=root)
    diff = sh("git", "diff", "--unified=0", "pipelines/mc.yaml", cwd=root).stdout
    assert diff.splitlines()[-2:] == [
        "-  ratio: 0.2       # share of rows",
        "+  ratio: 0.7       # share of rows",
    ]
    sh("mlops", "compile", cwd=root)
    again = sh("mlops", "run", cwd=root)
    assert again.stdout.startswith("\n0 ran")  # DVC's experiment already made these outputs


FAILING = """\
stages:
  load:
    step: ingest
    with: {source: "sklearn:iris"}
  split:
    step: split
    with: {target: no_such_column}
"""


def test_a_failed_first_run_leaves_no_data_for_git(tmp_path: Path, sh: Sh) -> None:
    root = custom_project(tmp_path / "p", sh, {"mc": MAKE_CHECK, "bad": FAILING})
    failed = sh("mlops", "run", cwd=root, check=False)
    assert failed.returncode == 1
    assert (root / "outputs/bad/load/data.parquet").exists()
    sh("git", "add", "-A", cwd=root)
    staged = sh("git", "diff", "--cached", "--name-only", cwd=root).stdout.split()
    assert not [p for p in staged if p.endswith((".parquet", "made.txt"))], staged
    # The error is said once, at the end.
    assert failed.stderr.count("no_such_column") == 1, failed.stderr


def test_a_removed_pipeline_leaves_nothing_to_run(tmp_path: Path, sh: Sh) -> None:
    second = "stages:\n  copy:\n    cmd: cp make.py copy.txt\n    outs: [copy.txt]\n"
    root = custom_project(tmp_path / "p", sh, {"mc": MAKE_CHECK, "other": second})
    sh("mlops", "run", cwd=root)
    git_commit(sh, root, "two pipelines")
    sh("git", "rm", "--quiet", "pipelines/other.yaml", cwd=root)
    stale = sh("mlops", "compile", "--check", cwd=root, check=False)
    assert stale.returncode == 1
    assert "pipelines/other/dvc.yaml" in stale.stderr
    result = sh("mlops", "run", cwd=root)
    assert not (root / "pipelines/other/dvc.yaml").exists()
    assert "compiled: removed pipelines/other/dvc.yaml (their pipelines are gone)" in (
        result.stderr
    )
    assert "other:" not in result.stderr
    sh("mlops", "compile", "--check", cwd=root)


def test_a_failing_command_that_prints_nothing(tmp_path: Path, sh: Sh) -> None:
    silent = "stages:\n  fail:\n    cmd: python -c 'raise SystemExit(3)'\n"
    root = custom_project(tmp_path / "p", sh, {"silent": silent})
    failed = sh("mlops", "run", cwd=root, check=False)
    assert failed.returncode == 1
    assert failed.stderr.splitlines()[-1] == (
        "  hint: the command printed nothing; run it by hand to see why it fails; "
        "fix it and run `mlops run` again"
    )


def test_run_fails_when_dvc_status_disagrees(tmp_path: Path, sh: Sh) -> None:
    # A stage that edits an earlier stage's input: every stage ran and succeeded, yet
    # `make` is no longer up to date, and the summary must not pass for the truth.
    eater = MAKE_CHECK.replace("cmd: python check.py", "cmd: python check.py && echo >> make.py")
    root = custom_project(tmp_path / "p", sh, {"mc": eater})
    result = sh("mlops", "run", cwd=root, check=False)
    assert result.returncode == 1
    assert result.stderr.splitlines()[-2:] == [
        "error: dvc status still lists 1 changed stage(s) after the run: mc:make; "
        "the summary above is not to be trusted",
        "  hint: run `dvc status` to see what changed, then `mlops run` again; if it "
        "persists, report it as a bug in mlops-runner",
    ]
