"""What CI should act on: the pipelines a change affects and the environments it moves."""

from __future__ import annotations

from runner.config.load import Workspace
from runner.plan.model import Plan


def affected_pipelines(plan: Plan, ws: Workspace) -> list[str]:
    """Pipelines of the work tree with a stage that (may) re-run, or a changed definition."""
    names = {run.stage.split(":", 1)[0] for run in plan.runs if run.status != "unchanged"}
    names |= {item.name for item in plan.pipelines if item.status != "removed"}
    names |= {item.name.split(":", 1)[0] for item in plan.gates}
    return sorted(n for n in names if n in ws.pipelines)


def changed_environments(plan: Plan, ws: Workspace) -> list[str]:
    """Environments whose desired versions or target settings changed."""
    names = {change.key.split("/", 1)[0] for change in plan.deployments}
    names |= {item.name for item in plan.environments if item.status != "removed"}
    return [env for env in ws.project.environments if env in names]
