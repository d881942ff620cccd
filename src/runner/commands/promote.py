"""`mlops promote MODEL --to ENV [--version V]`: move a version on, after the evidence."""

from __future__ import annotations

import sys

from runner.commands.output import write_json
from runner.config.load import Workspace
from runner.deploy import desired as deployments
from runner.deploy import promotion
from runner.registry import versions


def run(*, ws: Workspace, format: str, model: str, to: str, version: str | None) -> int:
    promotion.check_target(ws, to, model)
    upstream = ws.project.environments[to].requires
    if version is None:
        chosen = promotion.desired(ws, upstream, model) if upstream else None
        candidate = chosen or versions.find(ws.root, model, "latest", ws.project.ci.main_branch)
    else:
        candidate = versions.find(ws.root, model, version, ws.project.ci.main_branch)
    promotion.require_gate_passed(candidate)
    promotion.require_upstream(ws, to, candidate)
    promotion.require_in_remote(ws, candidate)
    before = deployments.set_version(ws.root, to, model, candidate.version)
    changed = before != candidate.version
    if format == "json":
        result = {
            "action": "promoted" if changed else "unchanged",
            "env": to,
            "model": model,
            "previous": before,
            "version": candidate.version,
            "commit": candidate.commit,
        }
        write_json(result, sort_keys=True)
    elif not changed:
        sys.stdout.write(f"{to}: {model} is already {candidate.version}; nothing changed\n")
    else:
        sys.stdout.write(
            f"{to}: {model} {before or '(none)'} -> {candidate.version} in deployments.yaml\n"
            "next: commit it in a pull request; after merge, CI runs `mlops deploy`\n"
        )
    return 0
