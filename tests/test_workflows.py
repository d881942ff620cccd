"""Generated workflows: GitHub's schema, actionlint, zizmor, and our own security rules."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from runner.commands.init import example_files
from runner.compile.generated import compile_project
from runner.compile.workflows import ACTIONS
from runner.project.workspace import open_workspace as load_workspace
from scale_project import write_project

from conftest import build_tree, run_cli

BIN = Path(sys.executable).parent
NAMES = ["mlops-deploy.yml", "mlops-main.yml", "mlops-monitor.yml", "mlops-pr.yml"]

HOSTILE_MLOPS = """\
version: 1
project: hostile-demo
storage:
  default: remote_1
  remotes:
    remote_1: {url: "s3://bucket/dvc store/$(touch PWNED)/${{ secrets.GITHUB_TOKEN }}"}
environments:
  qa_1:
    description: "${{ github.event.pull_request.body }} `id`"
    target: {kind: directory, path: "deploy/qa $(touch PWNED)/`id`/${{ github.token }}"}
  prod-eu:
    requires: qa_1
    approval: true
    description: "${{ secrets.MLOPS_TARGET_AWS_SECRET_ACCESS_KEY }}"
    target:
      kind: s3
      url: s3://models/prod
      endpoint_url: "http://127.0.0.1:9000"
ci:
  python: "3.12"
  runs_on: ubuntu-latest
  main_branch: release/2026.1
  install: "./tools/mlops_runner-0.1.0-py3-none-any.whl"
"""

HOSTILE_PIPELINE = """\
description: "${{ github.event.issue.title }} `id` $(touch PWNED)"
params:
  label: "x; touch PWNED ${{ github.token }}"
  note: "${{ secrets.GITHUB_TOKEN }}"
stages:
  ingest: {step: ingest, with: {source: "data/raw file $(x) ${{ github.ref }}.csv"}}
  split: {step: split, with: {target: "y; rm -rf / ${{ github.actor }}"}}
  train: {step: train, with: {estimator: sklearn.linear_model.LogisticRegression}}
  evaluate: {step: evaluate}
  report:
    cmd: python report.py "${{ github.event.pull_request.title }}"  # no shell in CI sees it
    params: [label]
    deps: ["docs/$(touch PWNED).md"]
    outs: ["out/re port.html"]
gates:
  baseline: qa_1
  no_baseline: absolute-only
  rules:
    - {metric: accuracy, min: 0.5}
deploy:
  model: hostile_model-2
  environments: [qa_1, prod-eu]
monitor:
  data: "data/$(touch PWNED) ${{ github.token }}.csv"
  schedule: "5 4 * * 1"
  on_drift: [issue, fail]
"""


def _write(root: Path, files: list[tuple[str, str]]) -> Path:
    for rel, text in files:
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root / ".github/workflows"


@pytest.fixture(scope="module", params=["example", "hostile"])
def workflows(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp(request.param)
    build_tree(root, dict(example_files()))
    if request.param == "hostile":
        (root / "pipelines/iris.yaml").unlink()
        build_tree(
            root,
            {
                "mlops.yaml": HOSTILE_MLOPS,
                "pipelines/a_b-c.yaml": HOSTILE_PIPELINE,
                "deployments.yaml": "qa_1: {hostile_model-2: latest}\n",
            },
        )
    files = [
        (rel, text) for rel, text in compile_project(load_workspace(root)) if ".github/" in rel
    ]
    assert sorted(Path(rel).name for rel, _ in files) == NAMES
    return _write(root, files)


def _load(folder: Path, name: str) -> dict[Any, Any]:
    data = yaml.safe_load((folder / name).read_text())
    # YAML 1.1 reads the key `on` as True.
    data["on"] = data.pop(True)
    return data  # type: ignore[no-any-return]


def _run(*cmd: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(list(cmd), cwd=cwd, capture_output=True, text=True, check=False)


def test_github_workflow_schema(workflows: Path) -> None:
    files = [str(workflows / n) for n in NAMES]
    proc = _run(
        str(BIN / "check-jsonschema"),
        "--builtin-schema",
        "vendor.github-workflows",
        *files,
        cwd=workflows,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_actionlint(workflows: Path) -> None:
    proc = _run(str(BIN / "actionlint"), "-no-color", *NAMES, cwd=workflows)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_zizmor_has_no_findings(workflows: Path) -> None:
    proc = _run(str(BIN / "zizmor"), "--offline", "--no-progress", str(workflows), cwd=workflows)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "No findings to report" in proc.stdout + proc.stderr


def test_zizmor_auditor_findings_are_the_documented_ones(workflows: Path) -> None:
    proc = _run(
        str(BIN / "zizmor"),
        "--offline",
        "--no-progress",
        "--persona",
        "auditor",
        str(workflows),
        cwd=workflows,
    )
    plain = re.sub(r"\x1b\[[0-9;]*m", "", proc.stdout)  # zizmor colours its output under CI
    found = sorted(set(re.findall(r"^(?:warning|error|help|info)\[([a-z-]+)\]", plain, re.M)))
    # docs/workflows.md explains both: the release job must push the version tag, and
    # the jobs that read the DVC remote use repository secrets (when the remote needs any).
    # The jobs that push (results commit, version tags) keep their checkout's credentials.
    expected = (
        ["artipacked", "secrets-outside-env"] if "hostile" in str(workflows) else ["artipacked"]
    )
    assert found == expected, proc.stdout
    assert "mlops-main.yml" in plain


# Every job's token permissions and the secrets it reads, exactly: nothing beyond what
# it uses. `github.token` counts as a secret here: only the jobs that talk to GitHub
# get it. The hostile fixture's remote is on S3 and its prod-eu target too (qa_1 is a
# folder); the example needs no credentials at all.
PERMISSIONS = {
    ("mlops-pr.yml", "check"): {"contents": "read"},
    ("mlops-pr.yml", "pipeline"): {"contents": "read"},
    ("mlops-pr.yml", "sweep"): {"contents": "read"},
    ("mlops-pr.yml", "results"): {
        "contents": "write",
        "statuses": "write",
        "pull-requests": "write",
    },
    ("mlops-pr.yml", "fork"): {"contents": "read", "statuses": "write", "pull-requests": "write"},
    ("mlops-main.yml", "release"): {"contents": "read"},
    ("mlops-main.yml", "tag"): {"contents": "write"},
    ("mlops-main.yml", "deploy"): {"contents": "read"},
    ("mlops-deploy.yml", "changes"): {"contents": "read"},
    ("mlops-deploy.yml", "deploy-qa_1"): {"contents": "read"},
    ("mlops-deploy.yml", "deploy-prod-eu"): {"contents": "read"},
    ("mlops-deploy.yml", "deploy-staging"): {"contents": "read"},
    ("mlops-deploy.yml", "deploy-production"): {"contents": "read"},
    ("mlops-monitor.yml", "status"): {"contents": "read"},
    # The issue per model and environment; the history on its own branch.
    ("mlops-monitor.yml", "monitor"): {"contents": "write", "issues": "write"},
}
REMOTE = {"secrets.MLOPS_REMOTE_AWS_ACCESS_KEY_ID", "secrets.MLOPS_REMOTE_AWS_SECRET_ACCESS_KEY"}
TARGET = {"secrets.MLOPS_TARGET_AWS_ACCESS_KEY_ID", "secrets.MLOPS_TARGET_AWS_SECRET_ACCESS_KEY"}
MONITOR = {
    "secrets.MLOPS_MONITOR_AWS_ACCESS_KEY_ID",
    "secrets.MLOPS_MONITOR_AWS_SECRET_ACCESS_KEY",
}
HOSTILE_SECRETS = {
    ("mlops-pr.yml", "pipeline"): REMOTE,
    ("mlops-pr.yml", "sweep"): REMOTE,
    ("mlops-pr.yml", "results"): {"github.token"},
    ("mlops-pr.yml", "fork"): {"github.token"},
    ("mlops-main.yml", "release"): REMOTE,
    ("mlops-main.yml", "deploy"): REMOTE,  # qa_1, a folder: the remote's credentials only
    ("mlops-deploy.yml", "deploy-qa_1"): REMOTE,
    # An S3 target's credentials are the environment's, and read the remote too.
    ("mlops-deploy.yml", "deploy-prod-eu"): TARGET,
    ("mlops-monitor.yml", "status"): REMOTE,
    # Read-only credentials of the monitored targets, never the deploy jobs' own.
    ("mlops-monitor.yml", "monitor"): MONITOR,
}
EXAMPLE_SECRETS = {
    ("mlops-pr.yml", "results"): {"github.token"},
    ("mlops-pr.yml", "fork"): {"github.token"},
}
SECRET = re.compile(r"\$\{\{\s*((?:secrets\.[A-Za-z0-9_]+)|github\.token)\s*\}\}")


PLACED_BY_PLAN = {("mlops-pr.yml", "pipeline"), ("mlops-pr.yml", "sweep")}


def _secrets_of(job: dict[str, Any]) -> set[str]:
    """Every secret a job can read: its env, its steps' env and `with:`, its conditions."""
    return set(SECRET.findall(yaml.safe_dump(job)))


def test_every_job_has_exactly_the_permissions_and_secrets_it_uses(workflows: Path) -> None:
    for name in NAMES:
        data = _load(workflows, name)
        assert data["permissions"] == {}, name
        assert not {"pull_request_target", "workflow_run"} & set(data["on"]), name
    expected = HOSTILE_SECRETS if "hostile" in str(workflows) else EXAMPLE_SECRETS
    for name, job_id, job in _jobs(workflows):
        if (name, job_id) in PLACED_BY_PLAN:
            # Where and how long come from our own plan's matrix entry, never from free text.
            assert job["runs-on"] == "${{ matrix.runs_on }}", (name, job_id)
            assert job["timeout-minutes"] == "${{ matrix.timeout_minutes }}", (name, job_id)
        else:
            assert isinstance(job["timeout-minutes"], int), (name, job_id)
        assert job["permissions"] == PERMISSIONS[(name, job_id)], (name, job_id)
        assert _secrets_of(job) == expected.get((name, job_id), set()), (name, job_id)
        text = (workflows / name).read_text()
        for line in text.splitlines():
            if re.search(r"^\s+[a-z-]+: write", line):
                assert " # " in line, f"{name}: a write permission without its reason: {line}"


def test_secrets_of_targets_only_in_their_environments_deploy_job(workflows: Path) -> None:
    for name, job_id, job in _jobs(workflows):
        if _secrets_of(job) & TARGET:
            assert job.get("environment") == "prod-eu", (name, job_id)
            assert job_id == "deploy-prod-eu", (name, job_id)


def test_actions_pinned_to_commits_with_version_comments(workflows: Path) -> None:
    pinned = {f"{repo}@{sha}": tag for repo, sha, tag in ACTIONS.values()}
    for name in NAMES:
        for line in (workflows / name).read_text().splitlines():
            if not re.match(r"\s+(- )?uses:", line):
                continue
            match = re.search(r"uses: (\S+@[0-9a-f]{40}) # (v\d+\.\d+\.\d+)$", line)
            assert match, line
            assert pinned[match[1]] == match[2]


PUSHERS = {("mlops-main.yml", "tag"), ("mlops-pr.yml", "results")}
# Jobs with `contents: write` that push nothing through git: the monitor job writes its
# history to its own branch through the API and runs no pipeline.
WRITERS = PUSHERS | {("mlops-monitor.yml", "monitor")}


def test_checkout_keeps_no_credentials_except_where_pushing(workflows: Path) -> None:
    for name, job_id, job in _jobs(workflows):
        for step in job["steps"]:
            if "actions/checkout@" in step.get("uses", ""):
                expected = (name, job_id) in PUSHERS
                assert step["with"]["persist-credentials"] is expected, (name, job_id)


def test_jobs_that_write_run_no_pipeline_and_hold_no_remote_secret(workflows: Path) -> None:
    for name, job_id, job in _jobs(workflows):
        writes = {k for k, v in job["permissions"].items() if v == "write" and k == "contents"}
        runs = [step.get("run", "") for step in job["steps"]]
        if writes:
            assert (name, job_id) in WRITERS
            assert not any(r.startswith(("mlops run", "dvc ", "mlops register")) for r in runs)
            assert not _secrets_of(job) & (REMOTE | TARGET), (name, job_id)


def test_the_pipeline_job_runs_with_the_results_of_a_fork_split_off(workflows: Path) -> None:
    pr = _load(workflows, "mlops-pr.yml")
    same = "github.event.pull_request.head.repo.full_name == github.repository"
    fork = "github.event.pull_request.head.repo.full_name != github.repository"
    assert same in pr["jobs"]["results"]["if"] and fork in pr["jobs"]["fork"]["if"]
    steps = pr["jobs"]["pipeline"]["steps"]
    pushes = [s for s in steps if s.get("run", "").startswith("dvc push")]
    assert pushes and all(s["if"] == f"{same} && !matrix.shard" for s in pushes)
    # A shard pushes with `mlops run --push`, and only in a job that has the remote.
    shard_push = [s for s in steps if "--push" in s.get("run", "")]
    assert [s["if"] for s in shard_push] == [same]
    # The sweep's collect job uses the remote: never for a fork.
    assert same in pr["jobs"]["sweep"]["if"]


def test_no_install_step_resolves_an_unpinned_name(workflows: Path) -> None:
    for name, job_id, job in _jobs(workflows):
        installs = [s for s in job["steps"] if s["name"].startswith("Install mlops-runner")]
        assert len(installs) == 1, (name, job_id)
        step = installs[0]
        value = step["env"]["MLOPS_INSTALL"]
        if "hostile" in str(workflows):
            assert value == "./tools/mlops_runner-0.1.0-py3-none-any.whl"  # a path
            assert step["run"] == 'python -m pip install "$MLOPS_INSTALL"'
        else:  # the default: a requirements file in which every line has its hash
            assert value == "requirements/mlops-ci.txt"
            assert step["run"] == (
                'python -m pip install --require-hashes --no-deps -r "$MLOPS_INSTALL"'
            )


def _jobs(folder: Path) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (name, job_id, job) for name in NAMES for job_id, job in _load(folder, name)["jobs"].items()
    ]


def test_no_expression_in_run_and_thin_steps(workflows: Path) -> None:
    for name, job_id, job in _jobs(workflows):
        for step in job["steps"]:
            run = step.get("run")
            if run is None:
                continue
            assert "${{" not in run, (name, job_id, run)
            assert "GITHUB_ENV" not in run
            assert "\n" not in run.strip(), run
            if step["name"].startswith("Install mlops-runner"):
                assert run.startswith("python -m pip install ") and run.endswith('"$MLOPS_INSTALL"')
            else:
                assert run.startswith(("mlops ", "dvc ")), run


def test_deploy_jobs_use_environments_and_never_cancel(workflows: Path) -> None:
    for name, job_id, job in _jobs(workflows):
        if job_id.startswith("deploy"):
            assert "environment" in job, (name, job_id)
            assert job["concurrency"]["cancel-in-progress"] is False
            assert job["concurrency"]["group"].startswith("mlops-deploy-")
            assert not any("actions/cache" in s.get("uses", "") for s in job["steps"])


def test_hostile_values_stay_data(workflows: Path) -> None:
    if "hostile" not in str(workflows):
        pytest.skip("only for the hostile fixture")
    pr = _load(workflows, "mlops-pr.yml")
    assert pr["on"]["pull_request"]["branches"] == ["release/2026.1"]
    text = "".join((workflows / n).read_text() for n in NAMES)
    for hostile in ("PWNED", "github.event.issue", "pull_request.body", "`id`", "rm -rf"):
        assert hostile not in text, hostile  # no free text of the YAML reaches a workflow
    deploy = _load(workflows, "mlops-deploy.yml")
    assert sorted(deploy["jobs"]) == ["changes", "deploy-prod-eu", "deploy-qa_1"]
    assert deploy["jobs"]["deploy-prod-eu"]["environment"] == "prod-eu"


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("main_branch", '"release/${{ github.event.pull_request.title }}"'),
        ("main_branch", '"main; touch PWNED"'),
        ("runs_on", '"ubuntu-latest\\n  evil: true"'),
        ("python", '"3.11\\"; curl x | sh"'),
        ("install", '"mlops-runner==0.1.0; touch PWNED ${{ secrets.GITHUB_TOKEN }}"'),
        ("install", '"mlops-runner"'),
        ("install", '"mlops-runner>=0.1"'),
        ("install", '"--index-url=https://evil.example/simple mlops-runner==0.1.0"'),
        ("install", '"./tools/${{ github.head_ref }}.whl"'),
        ("install", '"https://evil.example/mlops_runner-0.1.0-py3-none-any.whl"'),
    ],
)
def test_ci_values_that_could_break_a_workflow_are_refused(
    tmp_path: Path, key: str, value: str
) -> None:
    build_tree(tmp_path, dict(example_files()))
    mlops = tmp_path / "mlops.yaml"
    text = mlops.read_text()
    text, found = re.subn(rf"^  {key}: .*$", f"  {key}: {value}", text, flags=re.M)
    if not found:  # `ci:` ends the example's mlops.yaml
        assert text.rstrip().splitlines()[-1].startswith("  "), text
        text = text.rstrip("\n") + f"\n  {key}: {value}\n"
    mlops.write_text(text)
    from runner.errors import ConfigError

    with pytest.raises(ConfigError) as info:
        load_workspace(tmp_path)
    message = info.value.problems[0].message
    if key == "install":
        assert message.startswith("ci.install: install '"), message
        assert message.endswith("or one exactly pinned requirement (name==1.2.3)"), message
    else:
        assert message.startswith(f"ci.{key}: the string "), message


def test_a_quoted_value_cannot_start_an_expression() -> None:
    from runner.compile.templating import environment

    quote = environment().filters["q"]
    assert quote("a ${{ github.token }}") == "\"a ${{ '${{' }} github.token }}\""
    assert quote("plain") == '"plain"'


def test_the_gate_in_ci_uses_the_pipelines_declared_baseline(workflows: Path) -> None:
    for name, job_id, job in _jobs(workflows):
        for step in job["steps"]:
            if step.get("run", "").startswith("mlops gate"):
                assert "--baseline" not in step["run"], (name, job_id)


def test_monitor_job_per_model_and_environment(workflows: Path) -> None:
    data = _load(workflows, "mlops-monitor.yml")
    if "hostile" not in str(workflows):
        # No pipeline of the example declares monitor: only the status check runs.
        assert sorted(data["jobs"]) == ["status"]
        return
    assert data["on"]["schedule"] == [{"cron": "5 4 * * 1"}]
    job = data["jobs"]["monitor"]
    steps = {s.get("id"): s for s in job["steps"]}
    assert [steps[i]["env"] for i in ("monitor-1", "monitor-2")] == [
        {"PIPELINE": "a_b-c", "ENV_NAME": "qa_1"},
        {"PIPELINE": "a_b-c", "ENV_NAME": "prod-eu"},
    ]
    assert all(steps[i]["continue-on-error"] is True for i in ("monitor-1", "monitor-2"))
    assert "github.event.schedule == '5 4 * * 1'" in steps["monitor-1"]["if"]
    # Only the target's secrets (prod-eu is on S3), not the DVC remote's.
    assert sorted(job["env"]) == ["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"]
    script = next(s for s in job["steps"] if "github-script" in s.get("uses", ""))
    monitors = json.loads(script["env"]["MONITORS"])
    assert [(m["model"], m["env"], m["fail"]) for m in monitors] == [
        ("hostile_model-2", "qa_1", True),
        ("hostile_model-2", "prod-eu", True),
    ]


def test_github_scripts_parse_as_javascript(workflows: Path, tmp_path: Path) -> None:
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed")
    for name, job_id, job in _jobs(workflows):
        for i, step in enumerate(job["steps"]):
            if "github-script" not in step.get("uses", ""):
                continue
            # actions/github-script runs the script as the body of an async function.
            source = tmp_path / f"{job_id}-{i}.js"
            source.write_text(f"(async function () {{\n{step['with']['script']}\n}});\n")
            proc = _run(node, "--check", str(source), cwd=tmp_path)
            assert proc.returncode == 0, (name, job_id, proc.stderr)


STEP_OUTPUT = re.compile(r"^\$\{\{ steps\.([a-z-]+)\.outputs\.([a-z]+) \}\}$")
JOB_OUTPUT = re.compile(r"^\$\{\{ fromJSON\(needs\.check\.outputs\.([a-z]+)\) \}\}$")


def test_a_pull_request_changing_one_of_500_pipelines_starts_one_pipeline_job(
    tmp_path: Path,
) -> None:
    """The generated PR workflow, as GitHub reads it, over 500 pipelines: one matrix job."""
    root = tmp_path / "many"
    names = write_project(root, 500)
    assert run_cli("compile", cwd=root).returncode == 0
    for args in (("init", "-q", "-b", "main"), ("add", "-A"), ("commit", "-qm", "500")):
        subprocess.run(["git", *args], cwd=root, check=True, capture_output=True)
    # The check job compares with origin/<base>; a pull request's checkout has it.
    subprocess.run(["git", "update-ref", "refs/remotes/origin/main", "HEAD"], cwd=root, check=True)
    source = root / "pipelines" / f"{names[321]}.yaml"
    source.write_text(source.read_text("utf-8").replace("max_depth: 3", "max_depth: 4"), "utf-8")
    assert run_cli("compile", cwd=root).returncode == 0
    pr = yaml.safe_load((root / ".github/workflows/mlops-pr.yml").read_text("utf-8"))
    check = pr["jobs"]["check"]
    # Run the check job's plan step as the workflow does, into a $GITHUB_OUTPUT file.
    github_output = tmp_path / "output"
    github_output.write_text("")
    step_outputs: dict[tuple[str, str], str] = {}
    for step in check["steps"]:
        if "id" not in step:
            continue
        done = subprocess.run(
            ["bash", "-e", "-c", step["run"]],
            cwd=root,
            env={
                **os.environ,
                "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
                "BASE_REF": "main",  # what `${{ github.base_ref }}` gives the step
                "GITHUB_OUTPUT": str(github_output),
            },
            capture_output=True,
            text=True,
            check=False,
        )
        assert done.returncode == 0, done.stderr
        for line in github_output.read_text().splitlines():
            key, value = line.split("=", 1)
            step_outputs[(step["id"], key)] = value
    job_outputs = {}
    for key, expression in check["outputs"].items():
        match = STEP_OUTPUT.match(expression)
        assert match, expression
        job_outputs[key] = step_outputs[(match[1], match[2])]
    for job_id, expected in (("pipeline", [[names[321]]]), ("sweep", [])):
        match = JOB_OUTPUT.match(pr["jobs"][job_id]["strategy"]["matrix"])
        assert match, job_id
        include = json.loads(job_outputs[match[1]])["include"]
        assert [entry["pipelines"] for entry in include] == expected, job_id
    assert job_outputs["collect"] == '{"include": []}'  # the sweep job's `if` skips it
    assert """needs.check.outputs.collect != '{"include": []}'""" in pr["jobs"]["sweep"]["if"]
