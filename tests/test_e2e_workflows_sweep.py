"""The generated PR workflow with a sweep sharded over three matrix jobs, executed job by
job as GitHub would, with the harness of tests/test_e2e_workflows.py (a module of its own
so that pytest-xdist runs it beside the other workflow scenarios).

Played: plan's matrix gives three shard jobs, each in its own clone against one shared
DVC remote; every variant is trained exactly once across them; the sweep job trains
nothing, picks the same champion as a local `mlops run` + `mlops gate` and reports one
table; the results job commits once; main after the merge trains nothing.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from test_e2e_shards import _sweep as sweep_over_three_shards
from test_e2e_shards import _trained as trained_variants
from test_e2e_workflows import (
    Runner,
    _head,
    _pr_context,
    _project,
    _pull_request,
    github,  # noqa: F401 (the fixture, used by name)
    sh,  # noqa: F401 (the fixture, used by name)
)

from conftest import Sh, copy_template, git_commit
from github_standin import GitHub

pytestmark = pytest.mark.slow


def test_sweep_of_six_variants_over_three_shard_jobs_trains_each_once(
    trained_template: Path,
    tmp_path: Path,
    sh: Sh,  # noqa: F811 (the imported fixture)
    github: GitHub,  # noqa: F811 (the imported fixture)
) -> None:
    dev, origin, remote = _project(trained_template, tmp_path, sh)
    runner = Runner(sh, tmp_path, origin, github)
    workflows = dev / ".github/workflows"
    sh("git", "checkout", "--quiet", "-b", "sweep", cwd=dev)
    sweep_over_three_shards(dev, remote)
    sh("mlops", "compile", cwd=dev)
    git_commit(sh, dev, "sweep iris over 3 shards")
    sh("git", "push", "--quiet", "origin", "sweep", cwd=dev)
    pushed = _head(sh, origin, "sweep")

    run = _pull_request(runner, workflows, _pr_context(sh, origin, "sweep"), pipelines=["iris"])
    # Three shard jobs, each in its own clone, then one sweep job: every variant trained once.
    assert [json.loads(run.check.outputs["matrix"])["include"][i]["shard"] for i in range(3)] == [
        "1/3",
        "2/3",
        "3/3",
    ]
    assert len({job.cwd for job in run.pipeline}) == 3
    trained = [name for job in run.pipeline for name in trained_variants("".join(job.log))]
    assert len(trained) == 6 and len(set(trained)) == 6, trained
    (sweep,) = run.sweep
    assert trained_variants("".join(sweep.log)) == []
    assert "| variant | shard | gate |" in sweep.summary
    # The results job commits the sweep job's results and sets one status.
    assert run.final is not None
    head = _head(sh, origin, "sweep")
    assert _head(sh, origin, "sweep~1") == pushed
    status = github.status(head, "mlops/iris")
    assert status["state"] == "success", status
    outcome = json.loads((sweep.cwd / "mlops-results/iris/outcome.json").read_text())
    selected = outcome["gate"]["selected"]

    # The same sweep in one process, locally: the same champion.
    local = copy_template(dev, tmp_path / "local")
    assert len(trained_variants(sh("mlops", "run", "iris", cwd=local).stderr)) == 6
    gate = sh("mlops", "gate", "iris", "--format", "json", cwd=local)
    assert selected == json.loads(gate.stdout)["selected"] is not None

    # Merge. The swept pipeline deploys nothing, so mlops-main.yml has no release job for
    # it; a fresh clone of main runs what that job would (`mlops run --pull`): no training.
    sh("git", "fetch", "--quiet", "origin", cwd=dev)
    sh("git", "push", "--quiet", "origin", "origin/sweep:refs/heads/main", cwd=dev)
    main = tmp_path / "main"
    sh("git", "clone", "--quiet", str(origin), str(main), cwd=tmp_path)
    after = sh("mlops", "run", "--pull", "--format", "json", cwd=main)
    assert trained_variants(after.stderr) == []
    assert not [s for s in json.loads(after.stdout)["ran"] if ":train" in s]
