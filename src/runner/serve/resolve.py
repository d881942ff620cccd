"""Which model an environment serves, and where from: shared by serve, predict and the API."""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path

from runner.config.load import Workspace
from runner.config.models import Serve
from runner.config.targets import TargetConfig
from runner.errors import UsageError, did_you_mean
from runner.serve.loader import LoadedModel, current_pointer, load_dir, load_pointer


@dataclass(frozen=True)
class Served:
    """An environment's target, the model it serves there and its `serve:` settings."""

    env: str
    model: str
    target: TargetConfig
    serve: Serve


def served(ws: Workspace, env: str, model: str | None) -> Served:
    """The model `env` serves (the only one deployments.yaml names there, or `model`)."""
    envs = ws.project.environments
    if env not in envs:
        raise UsageError(
            f"no environment named '{env}'{did_you_mean(env, list(envs))}",
            f"environments: {', '.join(envs) or 'none'}",
        )
    models = sorted(ws.deployments.get(env, {}))
    if model is None:
        if len(models) != 1:
            raise UsageError(
                f"deployments.yaml names {len(models)} models for '{env}'"
                + (f" ({', '.join(models)})" if models else ""),
                "choose one with --model NAME" if models else "deploy a model there first",
            )
        model = models[0]
    elif model not in models:
        raise UsageError(
            f"'{env}' does not serve '{model}'{did_you_mean(model, models)}",
            f"models in '{env}': {', '.join(models) or 'none'} (deployments.yaml)",
        )
    config = envs[env]
    return Served(env, model, config.target, config.serve or Serve())


def load_served(ws: Workspace, env: str, model: str | None = None) -> LoadedModel:
    """The verified model the environment's target points at now."""
    from runner.deploy.targets import open_target

    what = served(ws, env, model)
    target = open_target(what.target, ws.root)
    return load_pointer(target, current_pointer(target, what.model))


def load_version(ws: Workspace, model: str, version: str) -> LoadedModel:
    """A registered version's model, fetched from the DVC remote and checked against its
    record's sha256 manifest."""
    from runner.registry import artifact, versions

    found = versions.get(ws.root, model, version)
    artifact.check_declared(ws.root, found)
    info = found.record.artifact
    with tempfile.TemporaryDirectory(prefix="mlops-model-") as tmp:
        local = artifact.fetch(ws.root, found.commit, info.path, Path(tmp))
        artifact.verify(local, info.files, f"{found.tag} from the DVC remote")
        return load_dir(local, name=model, version=version, digest=artifact.digest(info.files))
