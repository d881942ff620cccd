"""A 6-variant sweep over 3 shard jobs, each in its own clone, sharing one DVC remote.

Like CI: a bare origin, one fresh clone per matrix job running
`mlops run iris --shard I/3 --pull --push`, then a fresh clone running
`mlops collect iris`. Every variant is trained exactly once across the jobs
(counted from the train step's own log lines), the champion is the one a local
`mlops run` + `mlops gate` picks, and main after the results commit trains nothing.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from conftest import Sh, copy_template, git_commit

pytestmark = pytest.mark.slow

TRAINED = re.compile(r"train: wrote \S*/outputs/iris/(train-[^/\s]+)/model")


@pytest.fixture
def sh(tmp_path_factory: pytest.TempPathFactory) -> Sh:
    return Sh(tmp_path_factory.mktemp("home"))


def _sweep(root: Path, remote: Path) -> None:
    pipeline = root / "pipelines/iris.yaml"
    text = pipeline.read_text("utf-8")
    text = text[: text.index("deploy:")]
    text = text.replace("  baseline: production", "  select: accuracy")
    text = text.replace(
        "stages:",
        "ci:\n  shards: 3\nsweep:\n  train.max_depth: [2, 3]\n"
        "  train.n_estimators: [10, 20, 30]\nstages:",
        1,
    )
    pipeline.write_text(text, "utf-8")
    (root / "deployments.yaml").write_text("{}\n", "utf-8")
    project = root / "mlops.yaml"
    project.write_text(
        project.read_text("utf-8").replace("url: .mlops/storage", f"url: {remote}"), "utf-8"
    )


def _trained(output: str) -> list[str]:
    return TRAINED.findall(output)


def test_sharded_sweep_trains_each_variant_once(
    trained_template: Path, tmp_path: Path, sh: Sh
) -> None:
    seed = copy_template(trained_template, tmp_path / "seed")
    remote = tmp_path / "remote"
    # The template's remote already holds ingest and split: the shards restore them.
    shutil.copytree(seed / ".mlops/storage", remote)
    _sweep(seed, remote)
    sh("mlops", "compile", cwd=seed)
    git_commit(sh, seed, "sweep iris over 3 shards")
    origin = tmp_path / "origin.git"
    sh("git", "clone", "--quiet", "--bare", str(seed), str(origin), cwd=tmp_path)

    clones = [tmp_path / f"job{i}" for i in (1, 2, 3)]
    for clone in clones:
        sh("git", "clone", "--quiet", str(origin), str(clone), cwd=tmp_path)
    jobs = [
        subprocess.Popen(
            ["mlops", "run", "iris", "--shard", f"{i}/3", "--pull", "--push"],
            cwd=clone,
            env=sh.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for i, clone in enumerate(clones, start=1)
    ]
    logs = [job.communicate(timeout=900)[0] for job in jobs]
    assert [job.returncode for job in jobs] == [0, 0, 0], "\n".join(logs)
    trained = [name for log in logs for name in _trained(log)]
    assert len(trained) == 6 and len(set(trained)) == 6, trained
    # Round-robin: shard I trains variants I and I+3 of the grid.
    assert [sorted(_trained(log)) for log in logs] == [
        ["train-max_depth-2-n_estimators-10", "train-max_depth-3-n_estimators-10"],
        ["train-max_depth-2-n_estimators-20", "train-max_depth-3-n_estimators-20"],
        ["train-max_depth-2-n_estimators-30", "train-max_depth-3-n_estimators-30"],
    ]

    final = tmp_path / "collect"
    sh("git", "clone", "--quiet", str(origin), str(final), cwd=tmp_path)
    collected = sh("mlops", "collect", "iris", "--push", "--format", "json", cwd=final)
    assert _trained(collected.stderr) == []
    report = json.loads(collected.stdout)
    assert [row["shard"] for row in report["variants"]] == ["1/3", "2/3", "3/3"] * 2
    assert not [s for s in report["ran"] if ":train-" in s]
    assert report["passed"] is True

    # The same sweep in one process, locally (its cache has none of the variants): the same
    # champion.
    local = sh("mlops", "run", "iris", cwd=seed)
    assert len(_trained(local.stderr)) == 6
    gate = sh("mlops", "gate", "iris", "--format", "json", cwd=seed)
    assert report["selected"] == json.loads(gate.stdout)["selected"] is not None

    # The results commit lands on main; main then trains nothing.
    git_commit(sh, final, "results of the sweep")
    sh("git", "push", "--quiet", "origin", "HEAD:main", cwd=final)
    main = tmp_path / "main"
    sh("git", "clone", "--quiet", str(origin), str(main), cwd=tmp_path)
    after = sh("mlops", "run", "--pull", "--format", "json", cwd=main)
    assert _trained(after.stderr) == []
    assert not [s for s in json.loads(after.stdout)["ran"] if ":train" in s]
