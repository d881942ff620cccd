"""Putting a plan together: load the base, compare the sides, predict the re-runs."""

from __future__ import annotations

from dataclasses import replace

from runner.config.load import Workspace
from runner.plan.base import load_base
from runner.plan.compare import (
    changed_items,
    deployment_values,
    diff_flat,
    environment_dumps,
    gate_changes,
    option_changes,
    param_changes,
    pipeline_dumps,
    setting_changes,
    stage_bodies,
)
from runner.plan.model import Plan
from runner.plan.reruns import predict_runs
from runner.plan.scope import changed_paths, scope
from runner.plan.side import read_side


def build_plan(ws: Workspace, base: str, commit: str, *, narrow: bool = False) -> Plan:
    """Compare the work tree's project `ws` with the project at `commit` (named `base`).

    `narrow`: compare only the pipelines git says the change can reach (plan/scope.py).
    """
    only = scope(ws, changed_paths(ws, commit)) if narrow else None
    if only is not None:
        total = len(ws.pipelines)
        ws = replace(ws, pipelines={n: p for n, p in ws.pipelines.items() if n in only})
    base_ws, note = load_base(ws.root, commit, only)
    if only is not None and note is None:
        note = f"compared {len(ws.pipelines)} of {total} pipelines: no file the others read changed"
    old, new = read_side(base_ws), read_side(ws)
    common = [n for n in ws.pipelines if base_ws is not None and n in base_ws.pipelines]
    return Plan(
        base=base,
        commit=commit,
        note=note,
        pipelines=tuple(changed_items(pipeline_dumps(base_ws), pipeline_dumps(ws), values=False)),
        stages=tuple(changed_items(stage_bodies(old), stage_bodies(new), values=False)),
        params=tuple(param_changes(old, new, common)),
        options=tuple(option_changes(old, new, common)),
        gates=tuple(gate_changes(base_ws, ws, common)),
        environments=tuple(
            changed_items(environment_dumps(base_ws), environment_dumps(ws), values=True)
        ),
        deployments=tuple(diff_flat(deployment_values(base_ws), deployment_values(ws))),
        settings=tuple(setting_changes(base_ws, ws)),
        runs=tuple(predict_runs(old, new, ws.root, commit)),
    )
