"""`mlops validate`: load every YAML file strictly and run the cross-file checks.

`--deep` also imports scikit-learn and reads the data's headers (runner.steps.deep)
and checks the versions deployments.yaml names against the registry.
"""

from __future__ import annotations

import sys

from runner.config.load import Workspace
from runner.errors import ConfigError


def run(*, ws: Workspace, format: str, deep: bool) -> int:
    if deep:
        from runner.deploy.desired import unregistered
        from runner.steps.deep import deep_problems

        problems = [*deep_problems(ws), *unregistered(ws)]
        if problems:
            raise ConfigError(problems)
    stages = sum(len(p.model.stages) for p in ws.pipelines.values())
    if format == "json":
        sys.stdout.write("[]\n")
    elif format == "text":
        sys.stdout.write(
            f"ok: {ws.project.project}: {len(ws.pipelines)} pipeline(s), {stages} stage(s), "
            f"{len(ws.project.environments)} environment(s)"
            + (" (deep: estimators, columns, metrics, versions)" if deep else "")
            + "\n"
        )
    return 0
