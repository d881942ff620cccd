"""Sharding a sweep over CI jobs, where jobs run, and the matrix `mlops plan` gives CI."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from runner.cli import main
from runner.config.scale import MAX_MATRIX
from runner.errors import UsageError
from runner.plan.matrix import Job, _fit
from runner.project.shards import Placement, Shard, assigned, parse_shard
from runner.project.sweep import variants
from scale_project import write_project

from conftest import run_cli

SWEEP = "sweep:\n  train.max_depth: [2, 3]\n  train.n_estimators: [10, 20, 30]\nstages:"


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text("utf-8")
    assert old in text
    path.write_text(text.replace(old, new, 1), "utf-8")


def _git(root: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=root, check=True, capture_output=True)


def test_shards_are_round_robin_disjoint_and_complete() -> None:
    grid = variants({"a": [1, 2, 3], "b": ["x", "y"]})
    parts = [assigned(grid, Shard(i, 4)) for i in range(1, 5)]
    assert [[v.name for v in p] for p in parts] == [
        ["a-1-b-x", "a-3-b-x"],
        ["a-1-b-y", "a-3-b-y"],
        ["a-2-b-x"],
        ["a-2-b-y"],
    ]
    assert sorted(v.name for p in parts for v in p) == sorted(v.name for v in grid)


@pytest.mark.parametrize("text", ["0/3", "4/3", "1/0", "a/b", "1/257", "1-3", ""])
def test_bad_shard_is_a_usage_error(text: str) -> None:
    with pytest.raises(UsageError) as caught:
        parse_shard(text)
    assert caught.value.message.startswith(f"--shard {text}: not a shard")
    assert parse_shard("2/3") == Shard(2, 3)


def test_run_shard_needs_one_swept_pipeline(
    example: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["run", "iris", "--shard", "1/2"]) == 2
    assert capsys.readouterr().err.splitlines()[0] == (
        "error: --shard 1/2: shards split one pipeline's sweep, and iris has no sweep:"
    )
    assert main(["run", "iris", "--shard", "3/2"]) == 2
    assert "not a shard" in capsys.readouterr().err
    assert main(["collect", "iris"]) == 2
    assert capsys.readouterr().err.splitlines()[0] == "error: iris has no sweep: to collect"


def test_plan_matrix_has_a_job_per_shard_where_the_yaml_says(example: Path) -> None:
    _git(example, "init", "-q", "-b", "main")
    _git(example, "add", "-A")
    _git(example, "commit", "-qm", "base")
    pipeline = example / "pipelines/iris.yaml"
    _edit(pipeline, "deploy:", "deployed_no_more:")
    text = pipeline.read_text("utf-8")
    pipeline.write_text(text[: text.index("deployed_no_more:")], "utf-8")
    _edit(pipeline, "  baseline: production", "  select: accuracy")
    _edit(
        pipeline,
        "stages:",
        "ci:\n  runs_on: [self-hosted, big]\n  timeout_minutes: 30\n  shards: 3\n"
        "  sweep: {runs_on: [self-hosted, gpu], timeout_minutes: 120}\n" + SWEEP,
    )
    (example / "deployments.yaml").write_text("{}\n", "utf-8")
    out = run_cli("plan", "--format", "json", cwd=example)
    assert out.returncode == 0, out.stderr
    doc = json.loads(out.stdout)
    assert doc["matrix"] == [
        {
            "name": f"iris {i}/3",
            "pipelines": ["iris"],
            "shard": f"{i}/3",
            "runs_on": ["self-hosted", "gpu"],
            "timeout_minutes": 120,
        }
        for i in (1, 2, 3)
    ]
    assert doc["collect"] == [
        {
            "name": "iris",
            "pipelines": ["iris"],
            "shard": None,
            "runs_on": ["self-hosted", "big"],
            "timeout_minutes": 30,
        }
    ]
    outputs = run_cli("plan", "--format", "outputs", cwd=example)
    lines = dict(line.split("=", 1) for line in outputs.stdout.splitlines())
    assert json.loads(lines["matrix"]) == {"include": doc["matrix"]}
    assert json.loads(lines["collect"]) == {"include": doc["collect"]}


def test_a_change_to_one_of_500_pipelines_gives_one_job(tmp_path: Path) -> None:
    root = tmp_path / "many"
    names = write_project(root, 500)
    _git(root, "init", "-q", "-b", "main")
    _git(root, "add", "-A")
    _git(root, "commit", "-qm", "500 pipelines")
    _git(root, "checkout", "-qb", "change")
    _edit(root / "pipelines" / f"{names[123]}.yaml", "max_depth: 3", "max_depth: 4")
    out = run_cli("plan", "--format", "outputs", cwd=root)
    assert out.returncode == 0, out.stderr
    lines = dict(line.split("=", 1) for line in out.stdout.splitlines())
    assert json.loads(lines["pipelines"]) == [names[123]]
    assert json.loads(lines["matrix"])["include"] == [
        {
            "name": names[123],
            "pipelines": [names[123]],
            "shard": None,
            "runs_on": ["ubuntu-latest"],
            "timeout_minutes": 360,
        }
    ]
    # A file a stage reads reaches the pipelines that read it, and no other.
    (root / "pipelines" / f"{names[7]}.yaml").write_text(
        (root / "pipelines" / f"{names[7]}.yaml")
        .read_text("utf-8")
        .replace('"sklearn:iris"', "data/seven.csv"),
        "utf-8",
    )
    _git(root, "add", "-A")
    _git(root, "commit", "-qm", "seven reads a file")
    (root / "data").mkdir()
    (root / "data/seven.csv").write_text("a,species\n1,x\n", "utf-8")
    out = run_cli("plan", "--format", "outputs", "--base", "HEAD", cwd=root)
    assert out.returncode == 0, out.stderr
    lines = dict(line.split("=", 1) for line in out.stdout.splitlines())
    assert json.loads(lines["pipelines"]) == [names[7]]


def test_a_matrix_over_the_limit_packs_unsharded_pipelines() -> None:
    hosted, gpu = Placement(("ubuntu-latest",), 360), Placement(("gpu",), 60)
    jobs = [Job((f"p{i}",), None, hosted if i % 3 else gpu) for i in range(400)]
    jobs += [Job(("sweep",), f"{i}/50", gpu) for i in range(1, 51)]
    fitted = _fit(jobs)
    assert len(fitted) <= MAX_MATRIX
    assert [j.shard for j in fitted if j.shard] == [f"{i}/50" for i in range(1, 51)]
    packed = [j for j in fitted if j.shard is None]
    assert sorted(p for j in packed for p in j.pipelines) == sorted(f"p{i}" for i in range(400))
    assert all((hosted if int(p[1:]) % 3 else gpu) == j.where for j in packed for p in j.pipelines)


def test_shard_jobs_over_the_matrix_limit_are_refused(
    example: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _edit(example / "mlops.yaml", "ci:\n", "ci:\n  shards: 200\n")
    seeds = "sweep:\n  seed: [" + ", ".join(map(str, range(200))) + "]\nstages:"
    for name in ("a", "b"):
        text = (example / "pipelines/iris.yaml").read_text("utf-8")
        text = text[: text.index("deploy:")].replace("stages:", seeds, 1)
        text = text.replace("  baseline: production", "  select: accuracy")
        (example / f"pipelines/{name}.yaml").write_text(text, "utf-8")
    assert main(["validate"]) == 2
    assert capsys.readouterr().err.splitlines()[0] == (
        "mlops.yaml:20:3: error: ci.shards: the sweeps of 2 pipelines make 400 shard jobs; "
        "one GitHub matrix holds at most 256"
    )


def _swept(example: Path) -> None:
    pipeline = example / "pipelines/iris.yaml"
    text = pipeline.read_text("utf-8")
    text = text[: text.index("deploy:")].replace("  baseline: production", "  select: accuracy")
    pipeline.write_text(text.replace("stages:", SWEEP, 1), "utf-8")
    (example / "deployments.yaml").write_text("{}\n", "utf-8")


def test_a_shard_beyond_the_variants_runs_nothing(
    example: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _swept(example)
    assert main(["run", "iris", "--shard", "8/8"]) == 0
    err = capsys.readouterr().err
    assert "shard 8/8 of iris: 0 of its 6 sweep variants" in err
    assert "running" not in err
    assert not (example / "pipelines/iris/dvc.lock").exists()


def test_collect_counts_training_stages_not_scoring(example: Path) -> None:
    from runner.commands.collect import training_stages
    from runner.project.workspace import open_workspace

    _swept(example)
    ws = open_workspace(example)
    names = sorted(training_stages(ws.pipelines["iris"]))
    assert names == sorted(
        f"iris:train-{v.name}" for v in variants(ws.pipelines["iris"].model.sweep)
    )


def test_collect_refuses_a_folder_for_markdown_before_running(
    example: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _swept(example)
    (example / "out").mkdir()
    assert main(["collect", "iris", "--no-pull", "--markdown", "out"]) == 2
    assert (
        capsys.readouterr().err.splitlines()[0] == "error: --markdown out: is a folder, not a file"
    )
    assert not (example / "pipelines/iris/dvc.yaml").exists()
