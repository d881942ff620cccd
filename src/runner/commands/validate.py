"""`mlops validate`: load every YAML file strictly and run the cross-file checks."""

from __future__ import annotations

import sys

from runner.config.load import Workspace


def run(*, ws: Workspace, format: str) -> int:
    stages = sum(len(p.model.stages) for p in ws.pipelines.values())
    if format == "json":
        sys.stdout.write("[]\n")
    elif format == "text":
        sys.stdout.write(
            f"ok: {ws.project.project}: {len(ws.pipelines)} pipeline(s), {stages} stage(s), "
            f"{len(ws.project.environments)} environment(s)\n"
        )
    return 0
