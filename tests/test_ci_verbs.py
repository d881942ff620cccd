"""`mlops ci`: collect a pipeline's results, publish them (commit, statuses, comments),
bundle and push version tags; and what each refuses.

Real git repositories with a bare origin, the trained example, and a local
stand-in for the GitHub API (tests/github_standin.py).
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from runner.ci import results
from runner.project.workspace import open_workspace

from conftest import copy_template, run_cli
from github_standin import REPOSITORY, TOKEN, GitHub


def _git(cwd: Path, *args: str) -> str:
    return subprocess.run(
        ["git", *args], cwd=cwd, capture_output=True, text=True, check=True
    ).stdout.strip()


@pytest.fixture
def github() -> Iterator[GitHub]:
    server = GitHub()
    yield server
    server.close()


@pytest.fixture
def project(trained_template: Path, tmp_path: Path) -> Path:
    """The trained example on branch `feature`, pushed to a bare origin."""
    origin = tmp_path / "origin.git"
    _git(tmp_path, "init", "--quiet", "--bare", "--initial-branch=main", str(origin))
    root = copy_template(trained_template, tmp_path / "repo")
    _git(root, "remote", "add", "origin", str(origin))
    _git(root, "push", "--quiet", "origin", "main")
    _git(root, "checkout", "--quiet", "-b", "feature")
    _git(root, "push", "--quiet", "origin", "feature")
    return root


def _env(github: GitHub, **extra: str) -> dict[str, str]:
    return {
        **os.environ,
        "GITHUB_API_URL": github.url,
        "GITHUB_REPOSITORY": REPOSITORY,
        "GITHUB_TOKEN": TOKEN,
        "GITHUB_SERVER_URL": "https://github.example",
        "GITHUB_RUN_ID": "42",
        "PR_NUMBER": "3",
        "HEAD_REF": "feature",
        "HEAD_REPO": REPOSITORY,
        "CHECK_RESULT": "success",
        "AFFECTED": '["iris"]',
        **extra,
    }


def _collect(root: Path, results: Path) -> dict[str, object]:
    gate = run_cli("gate", "iris", "--json", "gate.json", "--markdown", "gate.md", cwd=root)
    assert gate.returncode == 0, gate.stderr
    done = run_cli("ci", "collect", "iris", "--dir", str(results), "--format", "json", cwd=root)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)  # type: ignore[no-any-return]


def test_collect_takes_results_not_data_or_models(project: Path, tmp_path: Path) -> None:
    results = tmp_path / "results"
    done = _collect(project, results)
    files = done["files"]
    assert isinstance(files, list)
    assert {"dvc.lock", "pipelines/iris/dvc.lock", "outputs/iris/evaluate/metrics.json"} <= set(
        files
    )
    assert not [f for f in files if "train/model" in f or f.endswith(".parquet")], files
    outcome = json.loads((results / "iris/outcome.json").read_text())
    assert outcome["head"] == _git(project, "rev-parse", "HEAD")
    assert outcome["gate"]["passed"] is True
    assert (results / "iris/files/pipelines/iris/dvc.lock").read_bytes() == (
        project / "pipelines/iris/dvc.lock"
    ).read_bytes()


def test_collect_without_a_gate_carries_no_files(project: Path, tmp_path: Path) -> None:
    results = tmp_path / "results"
    done = run_cli("ci", "collect", "iris", "--dir", str(results), cwd=project)
    assert done.returncode == 0, done.stderr
    assert done.stdout == "collected 0 result file(s) of iris (the gate did not run)\n"
    assert json.loads((results / "iris/outcome.json").read_text())["files"] == []


def test_publish_verifies_then_commits_changed_results_once(
    project: Path, tmp_path: Path, github: GitHub
) -> None:
    results = tmp_path / "results"
    _collect(project, results)
    head = _git(project, "rev-parse", "HEAD")
    env = _env(github)

    # The branch carries these results already: verified, not re-committed.
    done = run_cli("ci", "publish", "--dir", str(results), cwd=project, env=env)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[0] == (
        f"the pull request carries its results ({head[:7]}): nothing to commit"
    )
    assert _git(project, "rev-parse", "origin/feature") == head
    status = github.status(head, "mlops/iris")
    assert status["state"] == "success"
    assert status["target_url"] == "https://github.example/team/models/actions/runs/42"
    assert github.status(head, "mlops/check")["state"] == "success"
    (comment,) = github.comments.values()
    assert comment["issue"] == 3 and comment["body"].startswith("<!-- mlops-gate:iris -->\n")

    # New results (as a pipeline job of a YAML-only change leaves them): one commit.
    metrics = results / "iris/files/outputs/iris/evaluate/metrics.json"
    values = json.loads(metrics.read_text())
    values["accuracy"] = 0.5
    metrics.write_text(json.dumps(values))
    done = run_cli("ci", "publish", "--dir", str(results), cwd=project, env=env)
    assert done.returncode == 0, done.stderr
    new = _git(project, "rev-parse", "HEAD")
    assert new != head and _git(project, "rev-parse", "HEAD~1") == head
    assert done.stdout.splitlines()[0] == (
        f"committed the results as {new[:7]}: outputs/iris/evaluate/metrics.json"
    )
    assert _git(tmp_path / "origin.git", "rev-parse", "feature") == new
    author = _git(project, "log", "-1", "--format=%an <%ae>|%s")
    assert author == (
        "github-actions[bot] <41898282+github-actions[bot]@users.noreply.github.com>"
        "|mlops: results of iris"
    )
    assert github.status(new, "mlops/iris")["state"] == "success"
    assert len(github.comments) == 1 and github.comments[1]["edits"] == 1


def test_publish_reports_a_failed_gate_and_a_run_that_never_gated(
    project: Path, tmp_path: Path, github: GitHub
) -> None:
    results = tmp_path / "results"
    _collect(project, results)
    outcome = results / "iris/outcome.json"
    data = json.loads(outcome.read_text())
    data.update(gate=None, failed=["iris:train"], files=[])
    outcome.write_text(json.dumps(data))
    done = run_cli("ci", "publish", "--dir", str(results), cwd=project, env=_env(github))
    assert done.returncode == 1
    assert done.stderr.splitlines()[0] == (
        "error: mlops/iris: the pipeline did not reach its gate (failed: iris:train); see the run"
    )
    head = _git(project, "rev-parse", "HEAD")
    assert github.status(head, "mlops/iris")["state"] == "failure"


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (
            {"files": ["src/evil.py"]},
            "{results}/iris: src/evil.py is not a result of pipeline iris",
        ),
        ({"head": "0" * 40}, "the results of iris are of another commit than {head}"),
    ],
)
def test_publish_refuses_what_the_pipeline_job_may_not_write(
    project: Path, tmp_path: Path, github: GitHub, change: dict[str, object], expected: str
) -> None:
    results = tmp_path / "results"
    _collect(project, results)
    outcome = results / "iris/outcome.json"
    (results / "iris/files/src").mkdir(parents=True)
    (results / "iris/files/src/evil.py").write_text("print('pwned')\n")
    outcome.write_text(json.dumps({**json.loads(outcome.read_text()), **change}))
    head = _git(project, "rev-parse", "HEAD")
    done = run_cli("ci", "publish", "--dir", str(results), cwd=project, env=_env(github))
    assert done.returncode == 1
    assert done.stderr.splitlines()[0] == "error: " + expected.format(
        results=results, head=head[:7]
    )
    assert not (project / "src/evil.py").exists()
    assert _git(project, "rev-parse", "HEAD") == head and github.calls == []


def test_publish_for_a_fork_commits_nothing_and_fails(
    project: Path, tmp_path: Path, github: GitHub
) -> None:
    results = tmp_path / "results"
    _collect(project, results)
    head = _git(project, "rev-parse", "HEAD")
    env = _env(github, HEAD_REPO="someone/models")
    done = run_cli("ci", "publish", "--dir", str(results), cwd=project, env=env)
    assert done.returncode == 1
    assert done.stderr.splitlines()[0] == (
        "error: mlops/iris: pull request from a fork: not run with the DVC remote and its "
        "results not committed; a maintainer must run it"
    )
    assert _git(project, "rev-parse", "HEAD") == head
    assert github.status(head, "mlops/iris")["state"] == "failure"


def test_ci_usage_errors(project: Path, tmp_path: Path) -> None:
    done = run_cli("ci", "collect", "--dir", "r", cwd=project)
    assert (done.returncode, done.stderr.splitlines()[0]) == (
        2,
        "error: mlops ci collect needs a pipeline",
    )
    done = run_cli("ci", "push-tags", "iris", "--dir", "r", cwd=project)
    assert (done.returncode, done.stderr.splitlines()[0]) == (
        2,
        "error: mlops ci push-tags takes no pipeline",
    )
    env = {k: v for k, v in os.environ.items() if k not in ("PR_NUMBER", "HEAD_REF", "HEAD_REPO")}
    env["GITHUB_REPOSITORY"] = REPOSITORY
    done = run_cli("ci", "publish", "--dir", "r", cwd=project, env=env)
    assert (done.returncode, done.stderr.splitlines()[0]) == (
        2,
        "error: PR_NUMBER, HEAD_REF, HEAD_REPO not set (or not a number): "
        "`mlops ci publish` runs in a pull request's workflow",
    )
    assert "Traceback" not in done.stderr


def test_bundle_then_push_tags_from_another_clone(project: Path, tmp_path: Path) -> None:
    _git(project, "checkout", "--quiet", "main")
    registered = run_cli("register", "iris", cwd=project)
    assert registered.returncode == 0, registered.stderr
    tags = tmp_path / "tags"
    done = run_cli("ci", "bundle", "iris", "--dir", str(tags), cwd=project)
    assert done.returncode == 0, done.stderr
    assert done.stdout == f"bundled iris-classifier@v0.1.0 into {tags / 'iris.bundle'}\n"
    # The tag job: a clone of main without the tag, which pushes it.
    clone = tmp_path / "tag-job"
    _git(tmp_path, "clone", "--quiet", str(tmp_path / "origin.git"), str(clone))
    done = run_cli("ci", "push-tags", "--dir", str(tags), cwd=clone)
    assert done.returncode == 0, done.stderr
    assert done.stdout == "pushed iris-classifier@v0.1.0\n"
    remote = _git(clone, "ls-remote", "--tags", "origin")
    assert "refs/tags/iris-classifier@v0.1.0" in remote
    assert _git(clone, "cat-file", "-t", "iris-classifier@v0.1.0") == "tag"


def test_push_tags_refuses_tags_that_are_not_this_runs_versions(
    project: Path, tmp_path: Path
) -> None:
    tags = tmp_path / "tags"
    tags.mkdir()
    _git(project, "checkout", "--quiet", "main")
    _git(project, "tag", "-a", "other-model@v9.0.0", "-m", "not ours")
    _git(
        project, "bundle", "create", str(tags / "x.bundle"), "refs/tags/other-model@v9.0.0", "^HEAD"
    )
    done = run_cli("ci", "push-tags", "--dir", str(tags), cwd=project)
    assert (done.returncode, done.stderr.splitlines()[0]) == (
        1,
        "error: x.bundle: other-model@v9.0.0 is not a version of this project's models",
    )
    empty = run_cli("ci", "push-tags", "--dir", str(tmp_path / "none"), cwd=project)
    assert (empty.returncode, empty.stderr.splitlines()[0]) == (
        1,
        f"error: no version tag to push: {tmp_path / 'none'} holds no *.bundle",
    )
    assert "other-model" not in _git(project, "ls-remote", "--tags", "origin")


def test_two_pipelines_give_one_commit_with_the_root_lock_merged_by_stage(
    example: Path,
) -> None:
    source = (example / "pipelines/iris.yaml").read_text()
    (example / "pipelines/iris2.yaml").write_text(
        source.replace("model: iris-classifier", "model: iris-two")
    )
    _git(example, "init", "--quiet", "--initial-branch=main")
    _git(example, "add", "-A")
    _git(example, "commit", "--quiet", "-m", "two pipelines")
    ws = open_workspace(example)
    folder = example.parent / "results"
    head = _git(example, "rev-parse", "HEAD")
    outcomes = {}
    for name in ("iris", "iris2"):
        # What each pipeline job would have collected: its lock, its metrics, and the
        # root dvc.lock in which only its own stage is new.
        files = {
            f"pipelines/{name}/dvc.lock": f"schema: '2.0'\nstages:\n  train:\n    cmd: {name}\n",
            f"outputs/{name}/evaluate/metrics.json": '{"accuracy": 0.9}\n',
            "dvc.lock": f"schema: '2.0'\nstages:\n  {name}:\n    cmd: python -m runner.steps "
            f"--manifest {name}\n",
        }
        for rel, text in files.items():
            path = folder / name / results.FILES / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
        outcomes[name] = results.Outcome(name, head, {"passed": True}, "", (), tuple(files))
    written = results.apply(ws, folder, outcomes)
    assert written == [
        "dvc.lock",
        "outputs/iris/evaluate/metrics.json",
        "outputs/iris2/evaluate/metrics.json",
        "pipelines/iris/dvc.lock",
        "pipelines/iris2/dvc.lock",
    ]
    merged = (example / "dvc.lock").read_text()
    assert "  iris:\n" in merged and "  iris2:\n" in merged, merged


def test_publish_says_so_when_the_branch_moved_meanwhile(
    project: Path, tmp_path: Path, github: GitHub
) -> None:
    results = tmp_path / "results"
    _collect(project, results)
    # Someone pushes to the branch while CI runs.
    other = tmp_path / "other"
    _git(
        tmp_path,
        "clone",
        "--quiet",
        "--branch",
        "feature",
        str(tmp_path / "origin.git"),
        str(other),
    )
    (other / "NOTES.md").write_text("meanwhile\n")
    _git(other, "add", "NOTES.md")
    _git(other, "commit", "--quiet", "-m", "meanwhile")
    _git(other, "push", "--quiet", "origin", "feature")
    metrics = results / "iris/files/outputs/iris/evaluate/metrics.json"
    metrics.write_text('{"accuracy": 0.5}\n')
    done = run_cli("ci", "publish", "--dir", str(results), cwd=project, env=_env(github))
    assert done.returncode == 1
    first = done.stderr.splitlines()[0]
    assert first.startswith("error: cannot push the results commit to feature: "), first
    assert "the run of the newer push commits the results" in done.stderr
    assert [c for c in github.calls if c[0] == "POST"] == []


def test_collect_with_gate_gates_each_pipeline_after_a_finished_run(
    project: Path, tmp_path: Path
) -> None:
    results = tmp_path / "results"
    summary = tmp_path / "summary.md"
    summary.write_text("")
    env = {**os.environ, "GITHUB_STEP_SUMMARY": str(summary)}
    done = run_cli(
        "ci", "collect", "iris", "--gate", "--dir", str(results), "--format", "json",
        cwd=project, env=env,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["collected"][0]["gate"] == "gate ran"
    outcome = json.loads((results / "iris/outcome.json").read_text())
    assert outcome["gate"]["passed"] is True and outcome["report"] in summary.read_text()
    assert "pipelines/iris/dvc.lock" in outcome["files"]
    assert not (project / "gate.json").exists(), "the report goes into the outcome only"
    # Without a finished `mlops run` in this work tree, the gate does not run: exit 1.
    (project / ".mlops/last-run.json").unlink()
    done = run_cli("ci", "collect", "iris", "--gate", "--dir", str(results), cwd=project)
    assert (done.returncode, done.stderr.splitlines()[0]) == (
        1,
        "error: mlops run did not finish in this job: the gate did not run for iris",
    )
    assert json.loads((results / "iris/outcome.json").read_text())["gate"] is None


def test_ci_gate_and_pipelines_usage_errors(project: Path) -> None:
    done = run_cli("ci", "bundle", "iris", "--gate", "--dir", "r", cwd=project)
    assert (done.returncode, done.stderr.splitlines()[0]) == (
        2,
        "error: --gate is an option of mlops ci collect, not of mlops ci bundle",
    )
    done = run_cli("ci", "bundle", "iris", "iris", "--dir", "r", cwd=project)
    assert (done.returncode, done.stderr.splitlines()[0]) == (
        2,
        "error: mlops ci bundle takes one pipeline, not 2",
    )
    done = run_cli("ci", "collect", "iris", "nope", "--dir", "r", cwd=project)
    assert done.returncode == 2 and "nope" in done.stderr.splitlines()[0]
    assert not (project / "r").exists(), "nothing is written before every name is known"
