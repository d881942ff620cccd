"""Cross-file checks: references, names, paths, gates and deployments.

Each check adds problems located in the file that has to change. The stage
graph (cycles, outputs written twice) is in `runner.project.graph`.
"""

from __future__ import annotations

from runner.config.load import Workspace
from runner.errors import Problem
from runner.project.checks.deployments import check_deployments, check_models_unique
from runner.project.checks.dvcfeatures import check_across_pipelines
from runner.project.checks.gates import produced_metrics
from runner.project.checks.names import NAME, NAME_MAX, PARAM_KEY, VERSION, name_problem
from runner.project.checks.paths import path_problem
from runner.project.checks.pipeline import check_pipeline
from runner.project.checks.project import check_project
from runner.project.checks.scale import check_scale
from runner.project.graph import build_graph


def check_workspace(ws: Workspace, *, complete: bool = True) -> list[Problem]:
    """Every cross-file problem; `complete=False` when some file failed to load."""
    problems: list[Problem] = []
    problems += check_project(ws)
    for pfile in ws.pipelines.values():
        problems += check_pipeline(ws, pfile)
    problems += check_models_unique(ws)
    problems += check_across_pipelines(ws)
    problems += check_scale(ws)
    if complete:
        problems += check_deployments(ws)
    graph = build_graph(ws)
    problems += graph.problems
    return problems


__all__ = [
    "NAME",
    "NAME_MAX",
    "PARAM_KEY",
    "VERSION",
    "check_workspace",
    "name_problem",
    "path_problem",
    "produced_metrics",
]
