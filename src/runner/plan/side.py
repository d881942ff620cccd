"""One side of the plan: a project compiled, its generated YAML and its DVC stages."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from runner import yamlio
from runner.compile.dvcfiles import compile_dvc
from runner.config.load import Workspace
from runner.layout import ROOT_DVC_YAML


@dataclass(frozen=True)
class Stage:
    """One stage of a generated dvc.yaml."""

    file: str  # the dvc.yaml that holds it
    name: str  # its name in that file
    body: Mapping[str, Any]


@dataclass(frozen=True)
class Side:
    """A project as DVC will see it; empty when the side has no project."""

    ws: Workspace | None
    files: Mapping[str, Any]  # generated YAML file -> its data
    stages: Mapping[str, Stage]  # `iris:train` / `iris` -> stage, in display order


def read_side(ws: Workspace | None) -> Side:
    """Compile `ws` and index its DVC stages; `None` gives the empty side."""
    if ws is None:
        return Side(None, {}, {})
    files = {path: yamlio.read(text) for path, text in compile_dvc(ws) if path.endswith(".yaml")}
    stages: dict[str, Stage] = {}
    for path, data in files.items():
        if path == ROOT_DVC_YAML or path.endswith(f"/{ROOT_DVC_YAML}"):
            for name, body in (data.get("stages") or {}).items():
                sid = name if path == ROOT_DVC_YAML else f"{path.split('/')[-2]}:{name}"
                stages[sid] = Stage(path, name, body)
    # Each pipeline's stages in file order, then its root stage.
    ordered = sorted(stages.items(), key=lambda kv: (kv[0].split(":")[0], ":" not in kv[0]))
    return Side(ws, files, dict(ordered))
