"""`mlops rollback MODEL --env ENV [--to V]`: put a previous version back."""

from __future__ import annotations

import sys

from runner.commands.output import write_json
from runner.config.load import Workspace
from runner.deploy import desired as deployments
from runner.deploy import history, promotion
from runner.errors import CheckFailed
from runner.registry import versions


def run(*, ws: Workspace, format: str, model: str, env: str, to: str | None) -> int:
    promotion.check_target(ws, env, model)
    current = promotion.desired(ws, env, model)
    if to is not None:
        target = versions.find(ws.root, model, to, ws.project.ci.main_branch)
    else:
        target = _previous(ws, env, model, current)
    if current is not None and target.version == current.version:
        raise CheckFailed(
            f"{env} already runs {model} {target.version}", "name another version with --to"
        )
    promotion.require_deployable(ws, env, target, current.version if current else None)
    promotion.require_in_remote(ws, target)
    deployments.set_version(ws.root, env, model, target.version)
    if format == "json":
        result = {
            "action": "rolled back",
            "env": env,
            "model": model,
            "previous": current.version if current else None,
            "version": target.version,
            "commit": target.commit,
        }
        write_json(result, sort_keys=True)
        return 0
    sys.stdout.write(
        f"{env}: {model} {current.version if current else '(none)'} -> {target.version} "
        "in deployments.yaml (rollback)\n"
        "next: commit it; after merge, CI runs `mlops deploy`\n"
    )
    return 0


def _previous(
    ws: Workspace, env: str, model: str, current: versions.Version | None
) -> versions.Version:
    """The version env ran before the current one (from git), else the next lower one."""
    if current is None:
        raise CheckFailed(f"{env} runs no version of {model}", "there is nothing to roll back")
    for value in reversed(history.desired_versions(ws.root, env, model)):
        if value not in ("latest", current.version):
            return versions.find(ws.root, model, value, ws.project.ci.main_branch)
    older = [v for v in versions.all_versions(ws.root, model) if v.key < current.key]
    if not older:
        raise CheckFailed(
            f"{model} has no version older than {current.version}", "name one with --to"
        )
    return older[-1]
