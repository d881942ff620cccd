"""The GitHub Actions workflows `mlops compile` writes (pure: returns [(path, text)]).

- mlops-pr.yml: on pull requests, compile --check, validate and plan; then one
  job per affected pipeline: run (pulling data and run-cache), gate against the
  first environment, one PR comment per pipeline updated in place.
- mlops-main.yml: on the main branch, reproduce (reusing the PR's run-cache
  unless `ci.reuse_pr_cache: false`), gate, register, push, deploy to the first
  environment.
- mlops-deploy.yml: after a merged change to deployments.yaml, one job per
  changed environment, each with `environment:` (reviewers) and its own
  concurrency group that never cancels a deploy in progress.
- mlops-monitor.yml: a schedule that checks environments serve what is desired and,
  for pipelines with `monitor:`, runs `mlops monitor` per model and environment
  (`_monitors`): one issue each, the results kept on the monitoring branch.

Security is built in and tested: `permissions: {}` at the top and the least
per job, actions pinned to commit SHAs, no user value inside `${{ }}` in a
`run:` (values travel through `env:` and are quoted), secrets only in the
jobs that need the remote, a timeout on every job.
"""

from __future__ import annotations

import json
from typing import Any

from runner import __version__
from runner.compile.header import header
from runner.compile.templating import render
from runner.config.load import Workspace
from runner.layout import (
    MONITOR_BRANCH,
    MONITOR_BRANCH_FILE,
    MONITOR_HISTORY,
    PIPELINES_DIR,
    PROJECT_FILE,
    WORKFLOW_DIR,
)

# Every action is pinned to the full commit of a release (name: (repo, sha, tag)).
ACTIONS = {
    "checkout": ("actions/checkout", "11bd71901bbe5b1630ceea73d27597364c9af683", "v4.2.2"),
    "setup_python": ("actions/setup-python", "a26af69be951a213d495a4c3e4e4022e16d87065", "v5.6.0"),
    "upload_artifact": (
        "actions/upload-artifact",
        "ea165f8d65b6e75b540449e92b4886f43607fa02",
        "v4.6.2",
    ),
    "github_script": (
        "actions/github-script",
        "60a0d83039c74a4aee543508d2ffcb1c3799cdea",
        "v7.0.1",
    ),
}

# Remote URL scheme -> (environment variable, repository secret) pairs.
SECRETS = {
    "s3": [
        ("AWS_ACCESS_KEY_ID", "MLOPS_AWS_ACCESS_KEY_ID"),
        ("AWS_SECRET_ACCESS_KEY", "MLOPS_AWS_SECRET_ACCESS_KEY"),
    ],
    "azure": [("AZURE_STORAGE_CONNECTION_STRING", "MLOPS_AZURE_STORAGE_CONNECTION_STRING")],
}


def _schemes(ws: Workspace) -> set[str]:
    schemes = set()
    if ws.project.storage:
        for remote in ws.project.storage.remotes.values():
            if remote.scheme is not None:
                schemes.add(remote.scheme)
    for env in ws.project.environments.values():
        schemes.add(env.target.kind)
    return schemes


def _monitors(ws: Workspace) -> dict[str, Any]:
    """The monitor job's context: one entry per (pipeline, environment) it watches, the
    schedules they run on, and only the secrets of those environments' targets."""
    monitors: list[dict[str, Any]] = []
    kinds: set[str] = set()
    for name, pfile in sorted(ws.pipelines.items()):
        monitor, deploy = pfile.model.monitor, pfile.model.deploy
        if monitor is None or deploy is None:
            continue
        for env in monitor.environments or deploy.environments:
            if env in ws.project.environments:
                kinds.add(ws.project.environments[env].target.kind)
            monitors.append(
                {
                    "id": f"monitor-{len(monitors) + 1}",
                    "pipeline": name,
                    "model": deploy.model,
                    "env": env,
                    "schedule": monitor.schedule,
                    "issue": "issue" in monitor.on_drift,
                    "fail": "fail" in monitor.on_drift,
                }
            )
    schedules = sorted({m["schedule"] for m in monitors}) or ["17 6 * * *"]
    return {
        "monitors": monitors,
        "monitors_json": json.dumps(monitors, sort_keys=True),
        "schedules": schedules,
        "monitor_secrets": [pair for kind in sorted(kinds) for pair in SECRETS.get(kind, [])],
        "monitor_history": MONITOR_HISTORY,
        "monitor_branch": MONITOR_BRANCH,
        "monitor_branch_file": MONITOR_BRANCH_FILE,
    }


def _context(ws: Workspace) -> dict[str, Any]:
    ci = ws.project.ci
    schemes = _schemes(ws)
    secrets = [pair for scheme in sorted(schemes) for pair in SECRETS.get(scheme, [])]
    install = ci.install or (
        f"mlops-runner[s3]=={__version__}" if "s3" in schemes else f"mlops-runner=={__version__}"
    )
    envs = list(ws.project.environments)
    return {
        "header": header(f"{PROJECT_FILE} and {PIPELINES_DIR}/*.yaml").rstrip("\n"),
        "actions": {key: f"{repo}@{sha} # {tag}" for key, (repo, sha, tag) in ACTIONS.items()},
        "python": ci.python,
        "runs_on": ci.runs_on,
        "main_branch": ci.main_branch,
        "install": install,
        "secrets": secrets,
        "reuse_pr_cache": ci.reuse_pr_cache,
        "baseline": envs[0] if envs else "",
        "first_env": envs[0] if envs else "",
        "pipelines": sorted(n for n, p in ws.pipelines.items() if p.model.deploy),
        "environments": [{"name": name} for name in envs],
        **_monitors(ws),
    }


def compile_workflows(ws: Workspace) -> list[tuple[str, str]]:
    context = _context(ws)
    names = ["mlops-pr.yml", "mlops-main.yml", "mlops-deploy.yml", "mlops-monitor.yml"]
    return [(f"{WORKFLOW_DIR}/{n}", render(f"workflows/{n}.j2", **context)) for n in names]
