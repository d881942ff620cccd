"""`runner.load_model`: the Python way to get the model an environment or version runs."""

from __future__ import annotations

from pathlib import Path

from runner.serve.loader import LoadedModel, load_dir


def load_model(
    env: str | None = None,
    *,
    model: str | None = None,
    version: str | None = None,
    path: str | Path | None = None,
    project: str | Path | None = None,
) -> LoadedModel:
    """Load a model, verified, with only scikit-learn, numpy and scipy types trusted.

    - `load_model("staging")`: what the environment's target points at now;
    - `load_model(model="iris-classifier", version="v0.1.0")`: a registered version,
      fetched from the project's DVC remote;
    - `load_model(path="outputs/iris/train/model")`: a model folder.

    `project` is the project folder (default: the nearest one upwards with mlops.yaml).
    The result has `.predict(frame)`, `.predict_proba(frame)`, `.features`, `.version`
    and `.estimator` (the scikit-learn pipeline).
    """
    from runner.errors import UsageError

    if sum(x is not None for x in (env, version, path)) != 1:
        raise UsageError("give exactly one of env, version (with model) or path")
    if path is not None:
        return load_dir(Path(path))
    from runner.layout import project_root
    from runner.project.workspace import open_workspace
    from runner.serve.resolve import load_served, load_version

    ws = open_workspace(project_root(None if project is None else str(project)))
    if env is not None:
        return load_served(ws, env, model)
    if model is None:
        raise UsageError("a version needs its model: load_model(model=NAME, version=V)")
    assert version is not None
    return load_version(ws, model, version)
