"""Find what a candidate is compared with, from git alone (no retraining, no server).

An environment's baseline is the version `deployments.yaml` says it runs: its
`name@vX.Y.Z` tag points at the commit whose committed metrics files are read.
A git ref's baseline is the metrics files at that ref.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from runner import git
from runner.config.load import PipelineFile, Workspace
from runner.errors import UsageError
from runner.gates.rules import Baseline
from runner.registry import versions


def resolve(ws: Workspace, pfile: PipelineFile, spec: str | None, files: Sequence[str]) -> Baseline:
    """The baseline named by `spec` (an environment or a git ref), reading `files`."""
    if spec is None:
        return Baseline("none", None, "no baseline is set (gates.baseline or --baseline)")
    if spec in ws.project.environments:
        return _environment(ws, pfile, spec, files)
    commit = git.rev_parse(ws.root, spec)
    if commit is None:
        return Baseline(
            spec, None, f"git ref '{spec}' not found (fetch it, e.g. git fetch origin)", True
        )
    return _at_commit(ws, f"{spec} ({commit[:7]})", commit, files)


def _environment(ws: Workspace, pfile: PipelineFile, env: str, files: Sequence[str]) -> Baseline:
    deploy = pfile.model.deploy
    if deploy is None:
        return Baseline(env, None, f"pipeline {pfile.name} deploys no model to {env}", True)
    model = deploy.model
    version = ws.deployments.get(env, {}).get(model)
    if version is None:
        return Baseline(env, None, f"{env} runs no version of {model} yet")
    if version == "latest":
        try:
            found = versions.latest(ws.root, model, ws.project.ci.main_branch)
        except UsageError as exc:
            return Baseline(env, None, exc.message, True)
        if found is None:
            where = (
                f" from {ws.project.ci.main_branch}"
                if versions.all_versions(ws.root, model)
                else ""
            )
            return Baseline(env, None, f"no version of {model} is registered{where} yet")
    else:
        try:
            found = versions.get(ws.root, model, version)
        except UsageError:
            return Baseline(
                env,
                None,
                f"deployments.yaml says {env} runs {model} {version}, but tag {model}@{version} "
                "does not exist (fetch tags: git fetch --tags)",
                True,
            )
    label = f"{env}: {model} {found.version} ({found.commit[:7]})"
    return _at_commit(ws, label, found.commit, files)


def _at_commit(ws: Workspace, label: str, commit: str, files: Sequence[str]) -> Baseline:
    prefix = git.prefix(ws.root)
    merged: dict[str, Any] = {}
    for path in files:
        text = git.show(ws.root, commit, f"{prefix}{path}")
        if text is None:
            continue
        try:
            values = json.loads(text)
        except ValueError:
            return Baseline(label, None, f"{path} at {commit[:7]} is not valid JSON", True, commit)
        if isinstance(values, dict):
            merged.update(values)
    return Baseline(label, merged, "", False, commit)


def params_at(ws: Workspace, commit: str | None, pipeline: str) -> dict[str, Any] | None:
    """The pipeline's params in `params.yaml` at `commit`, or None."""
    if commit is None:
        return None
    from runner import yamlio

    text = git.show(ws.root, commit, f"{git.prefix(ws.root)}params.yaml")
    if text is None:
        return None
    try:
        data = yamlio.read(text)
    except yamlio.YAMLError:
        return None
    value = data.get(pipeline) if isinstance(data, dict) else None
    return value if isinstance(value, dict) else {}


def resolve_files(ws: Workspace, base: Baseline, files: Sequence[str]) -> Baseline:
    """The same baseline commit, read from other metrics files (one sweep variant's)."""
    assert base.commit is not None
    return _at_commit(ws, base.label, base.commit, files)
