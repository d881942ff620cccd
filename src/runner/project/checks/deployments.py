"""deployments.yaml, and which pipeline owns each model name."""

from __future__ import annotations

from runner.config.load import Workspace
from runner.errors import Problem, did_you_mean
from runner.project.checks.names import VERSION


def check_models_unique(ws: Workspace) -> list[Problem]:
    """A problem for each model name that a second pipeline deploys."""
    out: list[Problem] = []
    owner: dict[str, str] = {}
    for pname, pfile in ws.pipelines.items():
        deploy = pfile.model.deploy
        if deploy is None:
            continue
        if deploy.model in owner:
            out.append(
                pfile.doc.problem(
                    ("deploy", "model"),
                    f"deploy.model: model '{deploy.model}' is already deployed by pipeline "
                    f"'{owner[deploy.model]}'",
                    "each model name belongs to one pipeline",
                )
            )
        else:
            owner[deploy.model] = pname
    return out


def check_deployments(ws: Workspace) -> list[Problem]:
    """Problems in deployments.yaml against the pipelines and environments."""
    doc = ws.deployments_doc
    if doc is None:
        return []
    envs = ws.project.environments
    deployed: dict[str, set[str]] = {}
    for pfile in ws.pipelines.values():
        if pfile.model.deploy:
            for env in pfile.model.deploy.environments:
                deployed.setdefault(env, set()).add(pfile.model.deploy.model)
    out: list[Problem] = []
    for env, models in ws.deployments.items():
        if env not in envs:
            out.append(
                doc.problem(
                    (env,),
                    f"environment '{env}' is not declared in mlops.yaml"
                    + did_you_mean(env, list(envs)),
                    f"declared environments: {', '.join(envs) or 'none'}",
                    prefer_key=True,
                )
            )
            continue
        for model, version in models.items():
            if model not in deployed.get(env, set()):
                out.append(
                    doc.problem(
                        (env, model),
                        f"{env}.{model}: no pipeline deploys model '{model}' to '{env}'"
                        + did_you_mean(model, sorted(deployed.get(env, set()))),
                        "add the environment to that pipeline's deploy.environments",
                        prefer_key=True,
                    )
                )
            if version != "latest" and not VERSION.fullmatch(version):
                out.append(
                    doc.problem(
                        (env, model),
                        f"{env}.{model}: '{version}' is not a version",
                        "write latest or a version such as v0.3.1",
                    )
                )
    return out
