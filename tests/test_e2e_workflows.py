"""Execute the generated workflows' steps, job by job, as GitHub would.

Each job runs in a fresh clone of a bare "origin" (actions/checkout stands in as a
clone, checked out at the `ref:` the step names), with the GITHUB_* variables set
and a local DVC remote. The other actions are stood in for by the test:
setup-python is this virtualenv, the artifact actions copy folders through a local
store, and the GitHub REST API is a local HTTP server that records every call
(statuses, comments). `run:` steps run with bash and the env the workflow declares;
`if:` conditions are evaluated from the event, and a failed step skips the rest
of its job except `always()` steps, as on GitHub.

Played: a pull request that only changes a hyperparameter (with the compiled
files) is trained in CI, its results are committed back to its branch and
`mlops/<pipeline>` statuses are set on that commit; a second push updates the one
comment in place; the merge registers and deploys without training; an
unrelated change trains nothing. A fork's pull request gets failing statuses
that say a maintainer must run it. Strict mode on main re-trains, finds the
identical model and registers; a commit whose dvc.lock names a swapped-in model
is refused, naming the stage. The sharded sweep through the same harness is in
tests/test_e2e_workflows_sweep.py.
"""

from __future__ import annotations

import fnmatch
import json
import re
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml

from conftest import Sh, copy_template, git_commit
from github_standin import REPOSITORY, GitHub

pytestmark = pytest.mark.slow

EXPRESSION = re.compile(r"\$\{\{\s*(.*?)\s*\}\}")
SAME_REPO = "github.event.pull_request.head.repo.full_name == github.repository"
FORK_REPO = "github.event.pull_request.head.repo.full_name != github.repository"


@dataclass
class Job:
    """What one job left: its work tree, outputs, summary and the step that failed."""

    cwd: Path
    outputs: dict[str, str]
    summary: str
    failed: str | None = None
    log: list[str] = field(default_factory=list)


def _condition(expression: str, context: dict[str, str]) -> bool:
    text = EXPRESSION.sub(lambda m: m[1], expression).strip()
    result = True
    for term in (t.strip() for t in text.split("&&")):
        if term in ("always()", "!cancelled()"):
            continue
        if term in ("success()",):
            continue
        assert term in context, f"the test does not know the condition {term!r}"
        result = result and context[term] == "true"
    return result


class Runner:
    """Runs jobs of generated workflows; stands in for the actions they use."""

    def __init__(self, sh: Sh, tmp: Path, origin: Path, github: GitHub) -> None:
        self.sh = sh
        self.tmp = tmp
        self.origin = origin
        self.github = github
        self.count = 0
        self.runs = 0
        self.artifacts = tmp / "artifacts-0"

    def new_run(self) -> None:
        """A new workflow run: artifacts are per run."""
        self.runs += 1
        self.artifacts = self.tmp / f"artifacts-{self.runs}"
        self.artifacts.mkdir()

    def expand(self, value: Any, context: dict[str, str]) -> str:
        def one(match: re.Match[str]) -> str:
            name = match[1]
            if name.startswith("secrets."):
                return ""  # the remote is a local folder: no secrets needed
            assert name in context, f"the test does not know the expression {name!r}"
            return context[name]

        return EXPRESSION.sub(one, str(value))

    def _uses(self, step: dict[str, Any], cwd: Path, context: dict[str, str]) -> None:
        action = step["uses"].split("@")[0]
        args = {k: self.expand(v, context) for k, v in (step.get("with") or {}).items()}
        if action == "actions/checkout":
            # A fresh clone (the job's cwd) of origin at the ref the step names.
            self.sh("git", "clone", "--quiet", str(self.origin), str(cwd), cwd=self.tmp)
            ref = args.get("ref") or context["github.ref_name"]
            self.sh("git", "checkout", "--quiet", ref, cwd=cwd)
        elif action == "actions/upload-artifact":
            src = cwd / args["path"]
            assert src.is_dir() and any(src.rglob("*")), f"nothing to upload at {src}"
            shutil.copytree(src, self.artifacts / args["name"])
        elif action == "actions/download-artifact":
            dest = cwd / args["path"]
            dest.mkdir(parents=True, exist_ok=True)
            assert args["merge-multiple"] == "True"  # YAML true, as str()
            for stored in sorted(self.artifacts.iterdir()):
                if fnmatch.fnmatch(stored.name, args["pattern"]):
                    shutil.copytree(stored, dest, dirs_exist_ok=True)
        else:
            assert action == "actions/setup-python", action  # this virtualenv

    def job(
        self,
        workflow: Path,
        job_id: str,
        context: dict[str, str],
        event: dict[str, str],
        *,
        fails: bool = False,
    ) -> Job:
        data = yaml.safe_load(workflow.read_text())
        job = data["jobs"][job_id]
        self.count += 1
        cwd = self.tmp / f"job{self.count}-{job_id}"
        output = self.tmp / f"job{self.count}.output"
        summary = self.tmp / f"job{self.count}.summary"
        output.write_text("")
        summary.write_text("")
        env = {
            **self.sh.env,
            "CI": "true",
            "GITHUB_ACTIONS": "true",
            "GITHUB_REPOSITORY": REPOSITORY,
            "GITHUB_SERVER_URL": "https://github.example",
            "GITHUB_API_URL": self.github.url,
            "GITHUB_RUN_ID": str(100 + self.count),
            "GITHUB_ACTOR": "ci-bot",
            "GITHUB_WORKFLOW": data["name"],
            "GITHUB_OUTPUT": str(output),
            "GITHUB_STEP_SUMMARY": str(summary),
            **event,
        }
        env.update({k: self.expand(v, context) for k, v in (job.get("env") or {}).items()})
        result = Job(cwd, {}, "")
        for step in job["steps"]:
            condition = step.get("if", "success()")
            runs_always = "always()" in condition
            if result.failed and not runs_always:
                continue
            if not _condition(condition, context):
                continue
            if "uses" in step:
                self._uses(step, cwd, context)
                continue
            if step["name"].startswith("Install mlops-runner"):
                continue  # installed already: this test runs the tool under test
            step_env = {
                **env,
                **{k: self.expand(v, context) for k, v in (step.get("env") or {}).items()},
            }
            proc = subprocess.run(
                ["bash", "-e", "-o", "pipefail", "-c", step["run"]],
                cwd=cwd,
                env=step_env,
                capture_output=True,
                text=True,
                check=False,
            )
            result.log.append(f"$ {step['run']}\n{proc.stdout}{proc.stderr}")
            if proc.returncode != 0 and not result.failed:
                result.failed = f"{step['name']}\n{proc.stdout}\n{proc.stderr}"
        assert bool(result.failed) == fails, f"{job_id}: {result.failed or 'passed'}"
        result.outputs = dict(
            line.split("=", 1) for line in output.read_text().splitlines() if "=" in line
        )
        result.summary = summary.read_text()
        return result


@pytest.fixture
def github() -> Iterator[GitHub]:
    server = GitHub()
    yield server
    server.close()


@pytest.fixture(scope="module")
def sh(tmp_path_factory: pytest.TempPathFactory) -> Sh:
    return Sh(tmp_path_factory.mktemp("home"))


def _run_cache(remote: Path) -> set[Path]:
    return {p for p in (remote / "runs").rglob("*") if p.is_file()}


def _last_run(job: Job) -> dict[str, Any]:
    return json.loads((job.cwd / ".mlops/last-run.json").read_text())  # type: ignore[no-any-return]


def _project(
    trained_template: Path, tmp_path: Path, sh: Sh, *, strict: bool = False
) -> tuple[Path, Path, Path]:
    """(developer's clone, bare origin, DVC remote): the trained example, pushed."""
    origin = tmp_path / "origin.git"
    remote = tmp_path / "dvc-remote"
    remote.mkdir()
    sh("git", "init", "--quiet", "--bare", "--initial-branch=main", str(origin), cwd=tmp_path)
    dev = copy_template(trained_template, tmp_path / "dev")
    # Each job is a fresh clone: the DVC remote must be a folder outside the work tree.
    mlops = dev / "mlops.yaml"
    text = mlops.read_text().replace("{url: .mlops/storage}", f"{{url: {remote}}}")
    if strict:
        text = text.rstrip("\n") + "\n  reuse_pr_cache: false\n"
    mlops.write_text(text)
    sh("mlops", "compile", cwd=dev)
    git_commit(sh, dev, "project")
    sh("dvc", "push", "--run-cache", cwd=dev)  # as main's CI did for main's results
    sh("git", "remote", "add", "origin", str(origin), cwd=dev)
    sh("git", "push", "--quiet", "-u", "origin", "main", cwd=dev)
    return dev, origin, remote


def _head(sh: Sh, origin: Path, ref: str) -> str:
    return sh("git", "rev-parse", ref, cwd=origin).stdout.strip()


def _pr_context(
    sh: Sh, origin: Path, branch: str, *, fork: bool = False, pipelines: str = '["iris"]'
) -> dict[str, str]:
    return {
        "github.base_ref": "main",
        "github.head_ref": branch,
        "github.ref_name": branch,
        "github.token": "ghs_test_token",
        "github.event.pull_request.number": "7",
        "github.event.pull_request.head.sha": _head(sh, origin, branch),
        "github.event.pull_request.head.repo.full_name": "someone/models" if fork else REPOSITORY,
        SAME_REPO: "false" if fork else "true",
        FORK_REPO: "true" if fork else "false",
        "needs.check.result": "success",
        "needs.check.outputs.pipelines": pipelines,
        "needs.check.outputs.pipelines != '[]'": "true" if pipelines != "[]" else "false",
    }


PR_EVENT = {"GITHUB_EVENT_NAME": "pull_request", "GITHUB_BASE_REF": "main"}
MAIN_EVENT = {"GITHUB_EVENT_NAME": "push", "GITHUB_REF": "refs/heads/main"}
MAIN = {"github.ref_name": "main", "matrix.pipeline": "iris"}


HAS_SWEEPS = """needs.check.outputs.collect != '{"include": []}'"""


def _entry(entry: dict[str, Any], index: int) -> dict[str, str]:
    """What one entry of plan's `matrix` or `collect` gives the job's expressions."""
    return {
        "join(matrix.pipelines, ' ')": " ".join(entry["pipelines"]),
        "matrix.pipelines[0]": entry["pipelines"][0],
        "matrix.shard": entry["shard"] or "",
        "!matrix.shard": "false" if entry["shard"] else "true",
        "strategy.job-index": str(index),
    }


def _matrix(
    runner: Runner, workflows: Path, job_id: str, context: dict[str, str], check: Job, key: str
) -> list[Job]:
    """One job per entry of the check job's `key` output, each in its own clone."""
    entries = json.loads(check.outputs[key])["include"]
    return [
        runner.job(workflows / "mlops-pr.yml", job_id, {**context, **_entry(e, i)}, PR_EVENT)
        for i, e in enumerate(entries)
    ]


@dataclass
class PullRequestRun:
    """The jobs of one run of the PR workflow."""

    check: Job
    pipeline: list[Job]
    sweep: list[Job]
    final: Job | None


def _pull_request(
    runner: Runner, workflows: Path, context: dict[str, str], *, pipelines: list[str]
) -> PullRequestRun:
    """The PR workflow: check, plan's matrix of pipeline jobs, the sweep jobs, then results."""
    runner.new_run()
    check = runner.job(workflows / "mlops-pr.yml", "check", context, PR_EVENT)
    assert json.loads(check.outputs["pipelines"]) == pipelines
    assert "## mlops plan" in check.summary
    data = yaml.safe_load((workflows / "mlops-pr.yml").read_text())
    context = {**context, HAS_SWEEPS: str(check.outputs["collect"] != '{"include": []}').lower()}
    jobs = PullRequestRun(check, [], [], None)
    if _condition(data["jobs"]["pipeline"]["if"], context):
        jobs.pipeline = _matrix(runner, workflows, "pipeline", context, check, "matrix")
    if _condition(data["jobs"]["sweep"]["if"], context):
        jobs.sweep = _matrix(runner, workflows, "sweep", context, check, "collect")
    for job_id in ("results", "fork"):
        if _condition(data["jobs"][job_id]["if"], context):
            jobs.final = runner.job(workflows / "mlops-pr.yml", job_id, context, PR_EVENT)
    return jobs


def _release(runner: Runner, workflows: Path, *, fails: bool = False) -> Job:
    """The main workflow: release (per pipeline), then tag."""
    runner.new_run()
    release = runner.job(workflows / "mlops-main.yml", "release", MAIN, MAIN_EVENT, fails=fails)
    if fails:
        return release
    runner.job(workflows / "mlops-main.yml", "tag", MAIN, MAIN_EVENT)
    return release


def test_yaml_only_pull_request_then_second_push_merge_and_unrelated_change(
    trained_template: Path, tmp_path: Path, sh: Sh, github: GitHub
) -> None:
    dev, origin, remote = _project(trained_template, tmp_path, sh)
    runner = Runner(sh, tmp_path, origin, github)
    workflows = dev / ".github/workflows"

    # A pull request that changes one hyperparameter, with the compiled files: no
    # dvc.lock, no metrics, nothing trained locally.
    sh("git", "checkout", "--quiet", "-b", "feature", cwd=dev)
    source = dev / "pipelines/iris.yaml"
    source.write_text(source.read_text().replace("n_estimators: 100", "n_estimators: 80"))
    sh("mlops", "compile", cwd=dev)
    git_commit(sh, dev, "fewer trees")
    sh("git", "push", "--quiet", "origin", "feature", cwd=dev)
    pushed = _head(sh, origin, "feature")
    cached = _run_cache(remote)

    results = _pull_request(
        runner, workflows, _pr_context(sh, origin, "feature"), pipelines=["iris"]
    )
    assert results is not None
    assert _run_cache(remote) - cached, "the PR's pipeline job pushed the run-cache"
    # One results commit on the PR branch, by the bot, with dvc.lock and metrics; the
    # manifest and the rendered plots are cached outputs, pushed to the remote.
    head = _head(sh, origin, "feature")
    assert head != pushed
    assert _head(sh, origin, "feature~1") == pushed
    show = sh("git", "show", "--stat", "--format=%an%n%s", head, cwd=origin).stdout
    assert show.startswith("github-actions[bot]\nmlops: results of iris\n"), show
    files = sh("git", "show", "--name-only", "--format=", head, cwd=origin).stdout.split()
    assert "pipelines/iris/dvc.lock" in files and "outputs/iris/manifest.json" not in files
    # The metrics are committed (80 trees score as 100 did on iris: unchanged here).
    sh("git", "cat-file", "-e", f"{head}:outputs/iris/evaluate/metrics.json", cwd=origin)
    assert not [f for f in files if "/train/model" in f or f.endswith(".parquet")], files
    assert set(files) <= {"dvc.lock", "pipelines/iris/dvc.lock"} | {
        f for f in files if f.startswith("outputs/iris/")
    }
    # The statuses are on the commit that will be merged, with a link to the run.
    iris = github.status(head, "mlops/iris")
    assert iris["state"] == "success"
    assert iris["description"].startswith("gate passed, compared with production")
    assert iris["target_url"].startswith("https://github.example/team/models/actions/runs/")
    assert github.status(head, "mlops/check")["state"] == "success"
    assert len(github.comments) == 1
    comment = github.comments[1]
    assert comment["body"].startswith("<!-- mlops-gate:iris -->\n")
    assert f"Results committed to this branch as {head[:7]}" in comment["body"]

    # A second push: nothing re-trains, nothing is re-committed, the comment is updated.
    sh("git", "pull", "--quiet", "origin", "feature", cwd=dev)
    (dev / "NOTES.md").write_text("why fewer trees\n")
    git_commit(sh, dev, "notes")
    sh("git", "push", "--quiet", "origin", "feature", cwd=dev)
    second = _head(sh, origin, "feature")
    results = _pull_request(
        runner, workflows, _pr_context(sh, origin, "feature"), pipelines=["iris"]
    )
    assert _head(sh, origin, "feature") == second, "a PR carrying its results is not re-committed"
    assert github.status(second, "mlops/iris")["state"] == "success"
    assert len(github.comments) == 1 and github.comments[1]["edits"] == 1
    assert "carries these results" in github.comments[1]["body"]

    # Merge: main registers and deploys without training.
    sh("git", "checkout", "--quiet", "main", cwd=dev)
    sh("git", "merge", "--quiet", "--ff-only", "feature", cwd=dev)
    sh("git", "push", "--quiet", "origin", "main", cwd=dev)
    release = _release(runner, workflows)
    last = _last_run(release)
    assert last["ran"] == [] and last["failed"] == [], "main trained again"
    tags = sh("git", "ls-remote", "--tags", str(origin), cwd=tmp_path).stdout
    assert "refs/tags/iris-classifier@v0.1.0" in tags
    deploy = runner.job(workflows / "mlops-main.yml", "deploy", MAIN, MAIN_EVENT)
    pointer = json.loads(
        (deploy.cwd / ".mlops/deploy/staging/iris-classifier/current.json").read_text()
    )
    assert pointer["version"] == "v0.1.0"
    # `dvc pull` at the version tag gets the model.
    check = runner.tmp / "pull-at-tag"
    sh(
        "git",
        "clone",
        "--quiet",
        "--branch",
        "iris-classifier@v0.1.0",
        str(origin),
        str(check),
        cwd=tmp_path,
    )
    sh("dvc", "pull", "--quiet", "pipelines/iris/dvc.yaml:train", cwd=check)
    assert (check / "outputs/iris/train/model").is_dir()

    # An unrelated change: no pipeline is affected, nothing trains, the statuses say so.
    sh("git", "pull", "--quiet", "--tags", "origin", "main", cwd=dev)
    sh("git", "checkout", "--quiet", "-b", "docs", cwd=dev)
    (dev / "NOTES.md").write_text("notes\n")
    git_commit(sh, dev, "notes")
    sh("git", "push", "--quiet", "origin", "docs", cwd=dev)
    docs = _pr_context(sh, origin, "docs", pipelines="[]")
    _pull_request(runner, workflows, docs, pipelines=[])
    unaffected = github.status(_head(sh, origin, "docs"), "mlops/iris")
    assert unaffected["state"] == "success"
    assert unaffected["description"] == "not affected by this pull request"
    assert len(github.comments) == 1
    sh("git", "checkout", "--quiet", "main", cwd=dev)
    sh("git", "merge", "--quiet", "--ff-only", "docs", cwd=dev)
    sh("git", "push", "--quiet", "origin", "main", cwd=dev)
    release = _release(runner, workflows)
    assert _last_run(release)["ran"] == [], "main trained again on a docs-only commit"
    tags = sh("git", "ls-remote", "--tags", str(origin), cwd=tmp_path).stdout
    assert "refs/tags/iris-classifier@v0.1.1" in tags


def test_fork_pull_request_gets_a_failing_status_that_says_a_maintainer_must_run_it(
    trained_template: Path, tmp_path: Path, sh: Sh, github: GitHub
) -> None:
    dev, origin, _ = _project(trained_template, tmp_path, sh)
    runner = Runner(sh, tmp_path, origin, github)
    workflows = dev / ".github/workflows"
    # GitHub fetches a fork's head into the base repository as refs/pull/N/head; a
    # branch stands in for it here.
    sh("git", "checkout", "--quiet", "-b", "fork-feature", cwd=dev)
    source = dev / "pipelines/iris.yaml"
    source.write_text(source.read_text().replace("max_depth: 5", "max_depth: 4"))
    sh("mlops", "compile", cwd=dev)
    git_commit(sh, dev, "shallower trees")
    sh("git", "push", "--quiet", "origin", "fork-feature", cwd=dev)
    head = _head(sh, origin, "fork-feature")
    context = _pr_context(sh, origin, "fork-feature", fork=True)

    check = runner.job(workflows / "mlops-pr.yml", "check", context, PR_EVENT)
    assert json.loads(check.outputs["pipelines"]) == ["iris"]
    # The fork's pipeline trains without the remote (the example's data allows it).
    (pipeline,) = _matrix(runner, workflows, "pipeline", context, check, "matrix")
    assert "iris:train" in _last_run(pipeline)["ran"]
    fork = runner.job(workflows / "mlops-pr.yml", "fork", context, PR_EVENT, fails=True)
    assert fork.failed is not None
    assert "a maintainer must run it" in fork.failed
    assert _head(sh, origin, "fork-feature") == head, "nothing is pushed for a fork"
    status = github.status(head, "mlops/iris")
    assert status["state"] == "failure"
    assert status["description"].startswith("pull request from a fork")
    assert "a maintainer must run it" in status["description"]
    (comment,) = github.comments.values()
    assert "docs/workflows.md" in comment["body"] and "iris: gate" in comment["body"]


def test_strict_main_registers_what_reproduces_and_refuses_a_swapped_model(
    trained_template: Path, tmp_path: Path, sh: Sh, github: GitHub
) -> None:
    dev, origin, _ = _project(trained_template, tmp_path, sh, strict=True)
    runner = Runner(sh, tmp_path, origin, github)
    workflows = dev / ".github/workflows"
    assert "--force --no-run-cache --locked" in (workflows / "mlops-main.yml").read_text()
    lock = dev / "pipelines/iris/dvc.lock"
    genuine = re.search(
        r"path: outputs/iris/train/model\n\s+hash: md5\n\s+md5: (\S+)", lock.read_text()
    )
    assert genuine, lock.read_text()

    # Results trained honestly and merged: main re-trains, finds them identical, registers.
    source = dev / "pipelines/iris.yaml"
    source.write_text(source.read_text().replace("n_estimators: 100", "n_estimators: 80"))
    sh("mlops", "run", cwd=dev)
    git_commit(sh, dev, "fewer trees, with results")
    sh("dvc", "push", cwd=dev)
    sh("git", "push", "--quiet", "origin", "main", cwd=dev)
    release = _release(runner, workflows)
    assert "iris:train" in _last_run(release)["ran"], "strict mode re-runs the stages"
    assert sh("git", "status", "--porcelain", "-uno", cwd=release.cwd).stdout.strip() == ""
    tags = sh("git", "ls-remote", "--tags", str(origin), cwd=tmp_path).stdout
    assert "refs/tags/iris-classifier@v0.1.0" in tags

    # A commit whose dvc.lock names another model than its code and data produce.
    source.write_text(source.read_text().replace("n_estimators: 80", "n_estimators: 60"))
    sh("mlops", "run", cwd=dev)
    text = lock.read_text()
    trained = re.search(r"path: outputs/iris/train/model\n\s+hash: md5\n\s+md5: (\S+)", text)
    assert trained and trained[1] != genuine[1]
    for path in (lock, dev / "dvc.lock"):
        path.write_text(path.read_text().replace(trained[1], genuine[1]))
    git_commit(sh, dev, "fewer trees (the model swapped for another)")
    sh("git", "push", "--quiet", "origin", "main", cwd=dev)
    release = _release(runner, workflows, fails=True)
    assert release.failed is not None
    assert release.failed.startswith("Reproduce strictly")
    assert "stage iris:train does not reproduce the commit's results" in release.failed
    tags = sh("git", "ls-remote", "--tags", str(origin), cwd=tmp_path).stdout
    assert "iris-classifier@v0.1.1" not in tags
