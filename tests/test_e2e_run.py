"""End to end: `mlops run` failure causes, hostile values and sweeps, in real git + DVC repos.

Split from test_e2e_pipeline.py so that the two halves run on different workers.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import Sh, build_tree, copy_template

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def sh(tmp_path_factory: pytest.TempPathFactory) -> Sh:
    return Sh(tmp_path_factory.mktemp("home"))


@pytest.fixture
def project(trained_template: Path, tmp_path: Path) -> Path:
    """A copy of the trained example for one test to change."""
    return copy_template(trained_template, tmp_path / "demo")


HOSTILE = {
    "semicolon": "x; touch PWNED1",
    "subshell": "$(touch PWNED2)",
    "backticks": "`touch PWNED3`",
    "quote": 'it\'s "quoted" ${HOME} $HOME',
}


def test_hostile_values_never_reach_a_shell(tmp_path: Path, sh: Sh) -> None:
    root = tmp_path / "hostile"
    sh("mlops", "init", str(root), cwd=tmp_path)
    params = "\n".join(f"  {k}: {json.dumps(v)}" for k, v in HOSTILE.items())
    params += '\n  nl: "a\\ntouch PWNED4"'
    refs = " ".join(f"${{{k}}}" for k in HOSTILE)
    echo = (
        "  echo:\n"
        f"    cmd: python echo.py {refs}\n"
        "    deps: [echo.py]\n"
        "    outs: [outputs/echo.json]\n"
    )
    pipeline = (
        f"params:\n{params}\n"
        "stages:\n"
        "  load:\n"
        "    step: ingest\n"
        "    with:\n"
        "      source: sklearn:iris\n"
        '      rename: {sepal_length_cm: "${semicolon}", petal_width_cm: "${nl}"}\n'
    )
    # DVC fills a command's `${...}` in unquoted at run time: validate refuses such values.
    build_tree(root, {"pipelines/hostile.yaml": pipeline + echo})
    refused = sh("mlops", "compile", cwd=root, check=False)
    assert refused.returncode == 2
    assert "${semicolon} is 'x; touch PWNED1' (spaces or shell syntax)" in refused.stderr
    # A built-in step's options never reach a shell.
    build_tree(root, {"pipelines/hostile.yaml": pipeline})
    sh("mlops", "validate", cwd=root)
    sh("mlops", "compile", cwd=root)
    sh("dvc", "repro", "dvc.yaml:hostile", cwd=root)
    import pyarrow.parquet as pq

    columns = pq.read_schema(root / "outputs/hostile/load/data.parquet").names
    assert HOSTILE["semicolon"] in columns and "a\ntouch PWNED4" in columns
    assert not list(root.rglob("PWNED*"))
    assert not list(tmp_path.rglob("PWNED*"))


def _failing_project(root: Path, sh: Sh, pipeline: str) -> None:
    sh("mlops", "init", str(root), cwd=root.parent)
    build_tree(root, {"pipelines/extra.yaml": pipeline})
    (root / "pipelines/iris.yaml").unlink()
    (root / "deployments.yaml").unlink()


def test_run_failing_stage_gives_cause_and_hint(project: Path, sh: Sh) -> None:
    # A typo in the estimator's parameters: ingest and split are up to date, train fails.
    source = project / "pipelines/iris.yaml"
    source.write_text(source.read_text().replace("max_depth: 5}", "max_dept: 5}"))
    result = sh("mlops", "run", cwd=project, check=False)
    assert result.returncode == 1
    last = result.stderr.strip().splitlines()[-2:]
    assert last[0].startswith("error: stage iris:train failed: stage iris:train: ")
    assert "max_dept" in last[0]
    assert last[1].startswith("  hint: ")
    assert "Traceback" not in result.stderr
    assert "1 failed" in result.stdout


def test_run_missing_input_gives_cause_and_hint(tmp_path: Path, sh: Sh) -> None:
    root = tmp_path / "missing"
    _failing_project(
        root,
        sh,
        "stages:\n  copy:\n    cmd: cp data/raw.csv outputs/raw.csv\n"
        "    deps: [data/raw.csv]\n    outs: [outputs/raw.csv]\n",
    )
    result = sh("mlops", "run", cwd=root, check=False)
    assert result.returncode == 1, result.stderr
    assert result.stderr.strip().splitlines()[-2:] == [
        "error: stage extra:copy cannot start: data/raw.csv is missing",
        "  hint: create the file, or fetch data with `dvc pull`",
    ]


def test_run_refused_by_compile_runs_nothing(tmp_path: Path, sh: Sh) -> None:
    """`dvc repro` starts early (while mlops opens the project) but runs only after
    compiling: a refused compile leaves it without effect."""
    root = tmp_path / "refused"
    _failing_project(
        root,
        sh,
        "stages:\n  hello:\n    cmd: echo hi > outputs/hi.txt\n    outs: [outputs/hi.txt]\n",
    )
    # A hand-written root dvc.yaml, which `dvc repro` would run and compile refuses
    # to replace.
    sneak = "stages:\n  sneak:\n    cmd: echo ran > sneaked.txt\n    outs: [sneaked.txt]\n"
    build_tree(root, {"dvc.yaml": sneak})
    result = sh("mlops", "run", cwd=root, check=False)
    assert result.returncode == 2, result.stderr
    assert "error: dvc.yaml was not written by mlops-runner" in result.stderr
    assert not (root / "sneaked.txt").exists()
    assert not (root / "dvc.lock").exists()
    # What the refused run left alone is what `dvc repro` would have run.
    sh("dvc", "repro", cwd=root)
    assert (root / "sneaked.txt").read_text() == "ran\n"


def test_run_with_the_dvc_lock_held(tmp_path: Path, sh: Sh) -> None:
    root = tmp_path / "locked"
    _failing_project(
        root,
        sh,
        "stages:\n  hello:\n    cmd: echo hi > outputs/hi.txt\n    outs: [outputs/hi.txt]\n",
    )
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time\n"
            "from dvc.lock import make_lock\n"
            "lock = make_lock(sys.argv[1], tmp_dir=sys.argv[2])\n"
            "lock.lock()\n"
            "print('locked', flush=True)\n"
            "time.sleep(60)\n",
            str(root / ".dvc/tmp/lock"),
            str(root / ".dvc/tmp"),
        ],
        stdout=subprocess.PIPE,
        text=True,
        env=sh.env,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
        result = sh("mlops", "run", cwd=root, check=False)
    finally:
        holder.kill()
        holder.wait()
    assert result.returncode == 1
    assert result.stderr.strip().splitlines()[-2:] == [
        "error: another DVC process holds the repository lock",
        "  hint: wait for it to finish; if none is running, a crashed run left "
        ".dvc/tmp/lock behind: remove it and retry",
    ]


def test_sweep_runs_every_variant_with_its_own_metrics(tmp_path: Path, sh: Sh) -> None:
    root = tmp_path / "sweep"
    _failing_project(
        root,
        sh,
        "params:\n  train: {max_depth: 1, n_estimators: 5}\n"
        "stages:\n"
        "  ingest: {step: ingest, with: {source: 'sklearn:wine'}}\n"
        "  split: {step: split, with: {target: cultivar, stratify: true}}\n"
        "  train:\n"
        "    step: train\n"
        "    with: {estimator: sklearn.ensemble.RandomForestClassifier, params: '${train}'}\n"
        "  evaluate: {step: evaluate, with: {metrics: [accuracy]}}\n"
        "sweep:\n  train.max_depth: [1, 4]\n"
        "gates:\n  select: accuracy\n  rules: [{metric: accuracy, min: 0.5}]\n",
    )
    result = sh("mlops", "run", "--format", "json", cwd=root)
    summary = json.loads(result.stdout)
    assert sorted(summary["metrics"]) == [
        "extra:evaluate-max_depth-1",
        "extra:evaluate-max_depth-4",
    ]
    assert len(summary["ran"]) == 7  # ingest, split, 2 x (train, evaluate), root
    meta = json.loads((root / "outputs/extra/train-max_depth-4/model/meta.json").read_text())
    assert meta["params"]["max_depth"] == 4
    gate = sh("mlops", "gate", "extra", "--format", "json", cwd=root)
    report = json.loads(gate.stdout)
    accuracy = {k: v["metrics"]["accuracy"] for k, v in report["variants"].items()}
    assert report["selected"] == max(accuracy, key=lambda k: accuracy[k])
    assert report["passed"] is True


def test_run_pull_with_an_unreachable_remote_fails_loudly(tmp_path: Path, sh: Sh) -> None:
    root = tmp_path / "noremote"
    sh("mlops", "init", str(root), cwd=tmp_path)
    mlops = root / "mlops.yaml"
    mlops.write_text(
        mlops.read_text().replace("{url: .mlops/storage}", "{url: /nonexistent/remote}")
    )
    result = sh("mlops", "run", "--pull", cwd=root, check=False)
    assert result.returncode == 1
    assert result.stderr.strip().splitlines()[-2] == (
        "error: DVC remote unavailable: /nonexistent/remote does not exist"
    )
    assert "a pull request from a fork gets no secrets" in result.stderr
    assert not (root / "outputs").exists()  # nothing ran, nothing passed silently


def _output_digests(root: Path) -> dict[str, str]:
    import hashlib

    return {
        p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted((root / "outputs").rglob("*"))
        if p.is_file()
    }


def test_stages_forked_by_the_step_server_write_what_stages_run_alone_write(
    project: Path, sh: Sh, tmp_path: Path
) -> None:
    # `mlops run` hands its built-in stages to one warm process (runner.forkserver);
    # with MLOPS_STEP_SERVER empty each stage runs alone. Same files either way, and
    # the server and its folder are gone when the run is.
    private = tmp_path / "tmp"
    private.mkdir()
    forked = Sh.__new__(Sh)
    forked.env = {**sh.env, "TMPDIR": str(private)}
    alone = Sh.__new__(Sh)
    alone.env = {**sh.env, "MLOPS_STEP_SERVER": ""}
    done = forked("mlops", "run", "--force", "--no-run-cache", "--format", "json", cwd=project)
    assert len(json.loads(done.stdout)["ran"]) == 5
    with_server = _output_digests(project)
    assert list(private.iterdir()) == []  # the server's folder is removed
    deadline = time.monotonic() + 10
    while subprocess.run(["pgrep", "-f", f"runner.forkserver {private}"]).returncode == 0:
        assert time.monotonic() < deadline, "the step server outlived mlops run"
        time.sleep(0.1)
    alone("mlops", "run", "--force", "--no-run-cache", cwd=project)
    assert _output_digests(project) == with_server
