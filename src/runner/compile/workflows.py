"""The GitHub Actions workflows `mlops compile` writes (pure: returns [(path, text)]).

- mlops-pr.yml: on pull requests, compile --check, validate and plan; one job per
  affected pipeline runs it (read-only token, the DVC remote's credentials), pushes
  outputs and run-cache, gates against `gates.baseline` and collects the results;
  one job without secrets commits them to the PR branch and sets `mlops/<pipeline>`
  statuses and one comment per pipeline (a fork's PR gets failing statuses).
- mlops-main.yml: on the main branch, reproduce (reusing what the PR committed, or
  strictly: forced, no run-cache, must match the merged dvc.lock), gate, register
  and bundle the tag; a job that runs no pipeline pushes the tags; deploy to the
  first environment with that environment's secrets.
- mlops-deploy.yml: after a merged change to deployments.yaml, one job per
  changed environment, each with `environment:` (reviewers, its secrets) and its
  own concurrency group that never cancels a deploy in progress.
- mlops-monitor.yml: a schedule that checks environments serve what is desired.
        **_monitors(ws),

Security is built in and tested: `permissions: {}` at the top and exactly what
each job uses, actions pinned to commit SHAs, no user value inside `${{ }}` in a
`run:` (values travel through `env:` and are quoted), each job only the secrets
it uses, installs that resolve no unpinned name, a timeout on every job.
"""

from __future__ import annotations

import json
from typing import Any

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
    "download_artifact": (
        "actions/download-artifact",
        "d3f86a106a0bac45b974a628896c90dbdf5c8093",
        "v4.3.0",
    ),
    # The monitor job's one issue per model and environment.
    "github_script": (
        "actions/github-script",
        "60a0d83039c74a4aee543508d2ffcb1c3799cdea",
        "v7.0.1",
    ),
}

# Credentials, by the scheme of a DVC remote or the kind of a target: the variables
# DVC and boto3 read (DVC remotes and S3 targets both read AWS_*).
CREDENTIALS = {
    "s3": ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"),
    "azure": ("AZURE_STORAGE_CONNECTION_STRING",),
}
# The DVC remote's credentials are repository secrets MLOPS_REMOTE_<VAR>, given to the
# jobs that read or write the remote. A target's are environment secrets
# MLOPS_TARGET_<VAR> of the GitHub environment of the same name, which only that
# environment's deploy job can read. Where both need the same variable (an S3 remote
# and an S3 target), the deploy job uses the environment's.
REMOTE_PREFIX = "MLOPS_REMOTE_"
TARGET_PREFIX = "MLOPS_TARGET_"
# `mlops monitor` reads the deployed version from each monitored target with read-only
# credentials of their own (repository secrets MLOPS_MONITOR_<VAR>), never the deploy
# jobs' environment secrets.
MONITOR_PREFIX = "MLOPS_MONITOR_"

# How each kind of `ci.install` is installed: (what, command). A requirements file
# is installed with --require-hashes and --no-deps, so pip resolves no name at all.
INSTALL = {
    "file": (
        "hash-pinned requirements",
        'python -m pip install --require-hashes --no-deps -r "$MLOPS_INSTALL"',
    ),
    "path": ("from a path in the repository", 'python -m pip install "$MLOPS_INSTALL"'),
    "requirement": ("pinned requirement", 'python -m pip install "$MLOPS_INSTALL"'),
}


def _remote_schemes(ws: Workspace) -> set[str]:
    storage = ws.project.storage
    if storage is None:
        return set()
    return {r.scheme for r in storage.remotes.values() if r.scheme is not None}


def _pairs(schemes: set[str], prefix: str) -> list[tuple[str, str]]:
    names = [var for scheme in sorted(schemes) for var in CREDENTIALS.get(scheme, ())]
    return [(var, f"{prefix}{var}") for var in names]


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
        "monitor_secrets": _pairs(kinds, MONITOR_PREFIX),
        "monitor_history": MONITOR_HISTORY,
        "monitor_branch": MONITOR_BRANCH,
        "monitor_branch_file": MONITOR_BRANCH_FILE,
    }


def _context(ws: Workspace) -> dict[str, Any]:
    ci = ws.project.ci
    remote = _pairs(_remote_schemes(ws), REMOTE_PREFIX)
    environments = []
    for name, env in ws.project.environments.items():
        target = _pairs({env.target.kind}, TARGET_PREFIX)
        taken = {var for var, _ in target}
        secrets = sorted(target + [(v, s) for v, s in remote if v not in taken])
        environments.append({"name": name, "secrets": secrets})
    kind, install = ci.install_spec
    what, command = INSTALL[kind]
    return {
        "header": header(f"{PROJECT_FILE} and {PIPELINES_DIR}/*.yaml").rstrip("\n"),
        "actions": {key: f"{repo}@{sha} # {tag}" for key, (repo, sha, tag) in ACTIONS.items()},
        "python": ci.python,
        "runs_on": ci.runs_on,
        "main_branch": ci.main_branch,
        "install": install,
        "install_what": what,
        "install_run": command,
        # The monitor job reads the remote only.
        "secrets": remote,
        "remote_secrets": remote,
        "reuse_pr_cache": ci.reuse_pr_cache,
        "first_env": environments[0] if environments else None,
        "pipelines": sorted(n for n, p in ws.pipelines.items() if p.model.deploy),
        "environments": environments,
        **_monitors(ws),
    }


def compile_workflows(ws: Workspace) -> list[tuple[str, str]]:
    context = _context(ws)
    names = ["mlops-pr.yml", "mlops-main.yml", "mlops-deploy.yml", "mlops-monitor.yml"]
    return [(f"{WORKFLOW_DIR}/{n}", render(f"workflows/{n}.j2", **context)) for n in names]
