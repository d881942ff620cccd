"""Which pipelines a plan must compare: the cheap first pass of `mlops plan`.

Compiling both sides of 500 pipelines to find the one a change touches costs
seconds; git already knows which files changed. A pipeline is in scope when its
file changed, when a file its stages read (and no stage writes) changed, or when
it reads the outputs of a pipeline in scope. A change to mlops.yaml can reach
every pipeline, so then all are compared. Generated files (dvc.yaml, dvc.lock,
params.yaml, workflows) are what compile writes from the YAML: they are not
inputs of the plan.
"""

from __future__ import annotations

from pathlib import PurePosixPath

from runner import git
from runner.config.load import Workspace
from runner.layout import (
    DVC_CONFIG,
    GITIGNORE,
    MLOPS_DIR,
    PARAMS_FILE,
    PIPELINES_DIR,
    PROJECT_FILE,
    ROOT_DVC_LOCK,
    ROOT_DVC_YAML,
    WORKFLOW_DIR,
)
from runner.project.graph import build_graph

_GENERATED = (ROOT_DVC_YAML, ROOT_DVC_LOCK, PARAMS_FILE, GITIGNORE, DVC_CONFIG)


def changed_paths(ws: Workspace, commit: str) -> set[str]:
    """Files of the work tree that differ from `commit`, new untracked files included."""
    return {
        *git.changed_files(ws.root, commit, ["."]),
        *git.tracked_files(ws.root, ["."], untracked=True),
    }


def scope(ws: Workspace, changed: set[str]) -> set[str] | None:
    """The pipelines to compare (those at the base included), or None for all of them."""
    if PROJECT_FILE in changed:
        return None
    names: set[str] = set()
    inputs: set[str] = set()
    for path in changed:
        parts = PurePosixPath(path).parts
        if len(parts) == 2 and parts[0] == PIPELINES_DIR and path.endswith((".yaml", ".yml")):
            names.add(PurePosixPath(path).stem)
        elif not _generated(path, parts):
            inputs.add(path.removesuffix(".dvc"))
    graph = build_graph(ws)
    for node in graph.nodes.values():
        if any(_overlap(dep, path) for dep in node.deps for path in inputs):
            names.add(node.pipeline)
    # Downstream pipelines read what the ones in scope write.
    grown = True
    while grown:
        grown = False
        for node in graph.nodes.values():
            if node.pipeline not in names and any(up[0] in names for up in node.upstream):
                names.add(node.pipeline)
                grown = True
    return names


def _generated(path: str, parts: tuple[str, ...]) -> bool:
    return (
        path in _GENERATED
        or (len(parts) > 2 and parts[0] == PIPELINES_DIR)
        or path.startswith((f"{WORKFLOW_DIR}/", f"{MLOPS_DIR}/", ".dvc/"))
    )


def _overlap(dep: str, path: str) -> bool:
    """`dep` is `path`, inside it, or holds it."""
    return dep == path or dep.startswith(f"{path}/") or path.startswith(f"{dep}/")
