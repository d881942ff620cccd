"""`mlops validate`: load every YAML file strictly and run the cross-file checks."""

from __future__ import annotations

import sys
from pathlib import Path

from runner.config.load import find_root, load_workspace
from runner.errors import UsageError


def project_root(project: str | None) -> Path:
    """The project folder from --project, or found upwards from the current folder."""
    if project is None:
        return find_root(Path.cwd())
    root = Path(project).resolve()
    if not (root / "mlops.yaml").is_file():
        raise UsageError(f"no mlops.yaml in {root}", "pass the folder that holds mlops.yaml")
    return root


def run(*, project: str | None, format: str) -> int:
    ws = load_workspace(project_root(project))
    stages = sum(len(p.model.stages) for p in ws.pipelines.values())
    if format == "json":
        sys.stdout.write("[]\n")
    elif format == "text":
        sys.stdout.write(
            f"ok: {ws.project.project}: {len(ws.pipelines)} pipeline(s), {stages} stage(s), "
            f"{len(ws.project.environments)} environment(s)\n"
        )
    return 0
