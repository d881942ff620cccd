"""Execute the `run:` steps of the generated workflows, in order, as GitHub would.

Each job runs in a fresh clone of a bare "origin" (checkout emulated as a
clone), with GITHUB_* variables set and a local DVC remote. The PR workflow
runs and gates the changed pipeline and pushes the run-cache; the main
workflow then reproduces without training, gates, registers and deploys to
staging. On the next commit, nothing trains again. The developer's repository
starts as a copy of the session's trained template, whose results main's CI
pushed before.
"""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from conftest import Sh, copy_template, git_commit

pytestmark = pytest.mark.slow

EXPRESSION = re.compile(r"\$\{\{\s*(.*?)\s*\}\}")


def _expand(value: Any, context: dict[str, str]) -> str:
    def one(match: re.Match[str]) -> str:
        name = match[1]
        if name.startswith("secrets."):
            return ""  # the example's remote is a local folder: no secrets needed
        assert name in context, f"the test does not know the expression {name!r}"
        return context[name]

    return EXPRESSION.sub(one, str(value))


class Runner:
    """Runs one job's `run:` steps; `uses:` steps are GitHub's own (checkout = our clone)."""

    def __init__(self, sh: Sh, tmp: Path) -> None:
        self.sh = sh
        self.tmp = tmp
        self.count = 0

    def clone(self, origin: Path, branch: str) -> Path:
        self.count += 1
        path = self.tmp / f"job{self.count}"
        self.sh("git", "clone", "--quiet", "--branch", branch, str(origin), str(path), cwd=self.tmp)
        return path

    def job(
        self, workflow: Path, job_id: str, cwd: Path, context: dict[str, str], event: dict[str, str]
    ) -> dict[str, str]:
        data = yaml.safe_load(workflow.read_text())
        job = data["jobs"][job_id]
        output = cwd.parent / f"{cwd.name}.output"
        summary = cwd.parent / f"{cwd.name}.summary"
        output.write_text("")
        summary.write_text("")
        env = {
            **self.sh.env,
            "CI": "true",
            "GITHUB_ACTIONS": "true",
            "GITHUB_REPOSITORY": "team/models",
            "GITHUB_RUN_ID": "1",
            "GITHUB_ACTOR": "ci-bot",
            "GITHUB_WORKFLOW": data["name"],
            "GITHUB_OUTPUT": str(output),
            "GITHUB_STEP_SUMMARY": str(summary),
            **event,
        }
        env.update({k: _expand(v, context) for k, v in (job.get("env") or {}).items()})
        for step in job["steps"]:
            if "uses" in step or step["name"] == "Install mlops-runner":
                continue  # installed already: this test runs the tool under test
            step_env = {
                **env,
                **{k: _expand(v, context) for k, v in (step.get("env") or {}).items()},
            }
            proc = subprocess.run(
                ["bash", "-e", "-o", "pipefail", "-c", step["run"]],
                cwd=cwd,
                env=step_env,
                capture_output=True,
                text=True,
                check=False,
            )
            assert proc.returncode == 0, f"{job_id}: {step['name']}\n{proc.stdout}\n{proc.stderr}"
        outputs = dict(
            line.split("=", 1) for line in output.read_text().splitlines() if "=" in line
        )
        outputs["_summary"] = summary.read_text()
        return outputs


@pytest.fixture(scope="module")
def sh(tmp_path_factory: pytest.TempPathFactory) -> Sh:
    return Sh(tmp_path_factory.mktemp("home"))


def _run_cache(remote: Path) -> set[Path]:
    return {p for p in (remote / "runs").rglob("*") if p.is_file()}


def test_pull_request_then_main_then_next_commit(
    trained_template: Path, tmp_path: Path, sh: Sh
) -> None:
    origin = tmp_path / "origin.git"
    remote = tmp_path / "dvc-remote"
    remote.mkdir()
    sh("git", "init", "--quiet", "--bare", "--initial-branch=main", str(origin), cwd=tmp_path)
    dev = copy_template(trained_template, tmp_path / "dev")
    # Each job is a fresh clone: the DVC remote must be a folder outside the work tree.
    mlops = dev / "mlops.yaml"
    mlops.write_text(mlops.read_text().replace("{url: .mlops/storage}", f"{{url: {remote}}}"))
    sh("mlops", "compile", cwd=dev)
    git_commit(sh, dev, "project")
    sh("dvc", "push", "--run-cache", cwd=dev)  # as main's CI did for main's results
    sh("git", "remote", "add", "origin", str(origin), cwd=dev)
    sh("git", "push", "--quiet", "-u", "origin", "main", cwd=dev)

    # A pull request: the developer trains and commits the results.
    sh("git", "checkout", "--quiet", "-b", "feature", cwd=dev)
    source = dev / "pipelines/iris.yaml"
    source.write_text(source.read_text().replace("n_estimators: 100", "n_estimators: 80"))
    sh("mlops", "run", cwd=dev)
    sh("git", "add", "-A", cwd=dev)
    sh("git", "commit", "--quiet", "-m", "fewer trees", cwd=dev)
    sh("git", "push", "--quiet", "origin", "feature", cwd=dev)

    runner = Runner(sh, tmp_path)
    workflows = dev / ".github/workflows"
    pr_event = {
        "GITHUB_EVENT_NAME": "pull_request",
        "GITHUB_BASE_REF": "main",
        "GITHUB_HEAD_REF": "feature",
    }
    context = {"github.base_ref": "main"}
    check = runner.job(
        workflows / "mlops-pr.yml", "check", runner.clone(origin, "feature"), context, pr_event
    )
    assert json.loads(check["pipelines"]) == ["iris"]
    assert "## mlops plan" in check["_summary"]
    job = runner.clone(origin, "feature")
    cached = _run_cache(remote)
    pipeline = runner.job(
        workflows / "mlops-pr.yml",
        "pipeline",
        job,
        {**context, "matrix.pipeline": "iris"},
        pr_event,
    )
    assert "iris: gate passed" in pipeline["_summary"]
    assert (job / "gate.json").exists()
    assert _run_cache(remote) - cached, "the PR job pushed the run-cache"

    # Merge, and the main workflow runs.
    sh("git", "checkout", "--quiet", "main", cwd=dev)
    sh("git", "merge", "--quiet", "--ff-only", "feature", cwd=dev)
    sh("git", "push", "--quiet", "origin", "main", cwd=dev)
    main_event = {"GITHUB_EVENT_NAME": "push", "GITHUB_REF": "refs/heads/main"}
    release = runner.clone(origin, "main")
    runner.job(
        workflows / "mlops-main.yml", "release", release, {"matrix.pipeline": "iris"}, main_event
    )
    last = json.loads((release / ".mlops/last-run.json").read_text())
    assert last["ran"] == [] and last["failed"] == [], "main trained again"
    tags = sh("git", "ls-remote", "--tags", str(origin), cwd=tmp_path).stdout
    assert "refs/tags/iris-classifier@v0.1.0" in tags
    deploy = runner.clone(origin, "main")
    runner.job(workflows / "mlops-main.yml", "deploy", deploy, {}, main_event)
    pointer = json.loads(
        (deploy / ".mlops/deploy/staging/iris-classifier/current.json").read_text()
    )
    assert pointer["version"] == "v0.1.0"

    # The next commit (docs only): the PR affects no pipeline; main trains nothing.
    sh("git", "pull", "--quiet", "--tags", "origin", "main", cwd=dev)
    sh("git", "checkout", "--quiet", "-b", "docs", cwd=dev)
    (dev / "NOTES.md").write_text("notes\n")
    sh("git", "add", "-A", cwd=dev)
    sh("git", "commit", "--quiet", "-m", "notes", cwd=dev)
    sh("git", "push", "--quiet", "origin", "docs", cwd=dev)
    docs_event = {**pr_event, "GITHUB_HEAD_REF": "docs"}
    check = runner.job(
        workflows / "mlops-pr.yml", "check", runner.clone(origin, "docs"), context, docs_event
    )
    assert json.loads(check["pipelines"]) == []
    sh("git", "checkout", "--quiet", "main", cwd=dev)
    sh("git", "merge", "--quiet", "--ff-only", "docs", cwd=dev)
    sh("git", "push", "--quiet", "origin", "main", cwd=dev)
    release = runner.clone(origin, "main")
    runner.job(
        workflows / "mlops-main.yml", "release", release, {"matrix.pipeline": "iris"}, main_event
    )
    last = json.loads((release / ".mlops/last-run.json").read_text())
    assert last["ran"] == [], "main trained again on a docs-only commit"
    assert (
        "refs/tags/iris-classifier@v0.1.1"
        in sh("git", "ls-remote", "--tags", str(origin), cwd=tmp_path).stdout
    )
