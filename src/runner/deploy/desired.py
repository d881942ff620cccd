"""Edit `deployments.yaml` (the desired state) without losing its comments.

Only `mlops promote` and `mlops rollback` write it, one value at a time, with
a round-trip edit so that comments and layout survive; the result is validated
again before it replaces the file (all-or-nothing).
"""

from __future__ import annotations

from collections.abc import MutableMapping
from pathlib import Path
from typing import Any

from runner.config.load import Workspace
from runner.errors import Problem
from runner.fsutil import write_atomic
from runner.layout import DEPLOYMENTS_FILE
from runner.registry import versions
from runner.yamlio import child_mapping, edit


def set_version(root: Path, env: str, model: str, version: str) -> str | None:
    """Set `env`/`model` to `version`; return the value it had (None if unset)."""
    path = root / DEPLOYMENTS_FILE
    text = path.read_text("utf-8") if path.exists() else ""

    def change(data: MutableMapping[str, Any]) -> Any:
        models = child_mapping(data, env)
        previous = models.get(model)
        models[model] = version
        return previous

    result, previous = edit(text, DEPLOYMENTS_FILE, change)
    write_atomic(path, result)
    return None if previous is None else str(previous)


def unregistered(ws: Workspace) -> list[Problem]:
    """A problem for each version `deployments.yaml` names that was never registered
    (`latest` is not checked: a new project has no version yet)."""
    doc = ws.deployments_doc
    if doc is None:
        return []
    owners = {p.model.deploy.model: p.name for p in ws.pipelines.values() if p.model.deploy}
    out: list[Problem] = []
    for env, models in ws.deployments.items():
        for model, wanted in models.items():
            if wanted == "latest" or model not in owners:
                continue
            known = [v.version for v in versions.all_versions(ws.root, model)]
            if wanted in known:
                continue
            out.append(
                doc.problem(
                    (env, model),
                    f"{env}.{model}: version {wanted} was never registered",
                    (f"registered versions: {', '.join(known)}" if known else "none is registered")
                    + f"; register one with `mlops register {owners[model]}`",
                )
            )
    return out
