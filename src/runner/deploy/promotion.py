"""The evidence a version needs before `deployments.yaml` may name it.

Promotion checks everything; rollback (an emergency) skips only the
`requires:` chain. `mlops deploy` checks the same evidence again before it
changes a target (`require_deployable`), so a hand-edited `deployments.yaml`
cannot ship what promote would refuse. Every refusal is a CheckFailed with the
reason.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from runner.config.load import Workspace
from runner.deploy.targets import open_target
from runner.deploy.targets.base import Target, TargetError
from runner.errors import CheckFailed, UsageError, did_you_mean
from runner.registry import artifact, versions


def target_for(ws: Workspace, env: str) -> Target:
    """The target environment `env` deploys to."""
    return open_target(ws.project.environments[env].target, ws.root)


def check_target(ws: Workspace, env: str, model: str) -> None:
    """Refuse unless `env` exists and some pipeline deploys `model` there."""
    envs = ws.project.environments
    if env not in envs:
        raise UsageError(
            f"no environment named '{env}'{did_you_mean(env, list(envs))}",
            f"environments: {', '.join(envs) or 'none'}",
        )
    for pfile in ws.pipelines.values():
        deploy = pfile.model.deploy
        if deploy and deploy.model == model and env in deploy.environments:
            return
    for pfile in ws.pipelines.values():
        deploy = pfile.model.deploy
        if deploy and deploy.model == model:
            raise UsageError(
                f"no pipeline deploys '{model}' to {env}: {pfile.doc.path} deploys it to "
                + ", ".join(deploy.environments),
                f"add {env} to deploy.environments in {pfile.doc.path}",
            )
    models = sorted({p.model.deploy.model for p in ws.pipelines.values() if p.model.deploy})
    raise UsageError(
        f"no pipeline deploys '{model}' to {env}{did_you_mean(model, models)}",
        f"models deployed: {', '.join(models) or 'none'}; "
        "add the environment to the pipeline's deploy.environments",
    )


def desired(ws: Workspace, env: str, model: str) -> versions.Version | None:
    """The version `deployments.yaml` names for env/model, resolved; None if unset."""
    wanted = ws.deployments.get(env, {}).get(model)
    if wanted is None:
        return None
    return versions.find(ws.root, model, wanted, ws.project.ci.main_branch)


def require_gate_passed(version: versions.Version) -> None:
    if not version.record.gate.passed:
        raise CheckFailed(
            f"{version.tag}: its gate did not pass at {version.commit[:7]}",
            "only versions whose gate passed can be deployed; register a passing version",
        )


def is_rollback(version: versions.Version, serving: str | None) -> bool:
    """Moving to a version older than the one served: a rollback, which skips `requires:`."""
    return serving is not None and version.key < versions.parse(serving)


def require_deployable(
    ws: Workspace, env: str, version: versions.Version, serving: str | None
) -> None:
    """What `mlops deploy` checks before it moves env's target from `serving` to `version`:
    the gate passed and, unless it moves back to an older version (a rollback), `requires:`
    holds. Deploy itself checks the artifact against the record as it fetches or finds it."""
    require_gate_passed(version)
    if not is_rollback(version, serving):
        require_upstream(ws, env, version)


def require_in_remote(ws: Workspace, version: versions.Version) -> None:
    """Check that the record's artifact is the model output its commit declares, then fetch
    it from the DVC remote and check every file's sha256."""
    artifact.check_declared(ws.root, version)
    info = version.record.artifact
    if not info.files:
        raise CheckFailed(f"{version.tag} has no artifact record", "register it again")
    with tempfile.TemporaryDirectory(prefix="mlops-check-") as tmp:
        local = artifact.fetch(ws.root, version.commit, info.path, Path(tmp))
        artifact.verify(local, info.files, f"{version.tag} in the DVC remote")


def require_upstream(ws: Workspace, env: str, version: versions.Version) -> None:
    """`requires:` holds: the previous environment wants and serves this version."""
    upstream = ws.project.environments[env].requires
    if upstream is None:
        return
    wanted = desired(ws, upstream, version.model)
    if wanted is None or wanted.version != version.version:
        runs = wanted.version if wanted else "nothing"
        raise CheckFailed(
            f"{env} requires {upstream}, which runs {runs}, not {version.version}",
            f"promote {version.version} to {upstream} first",
        )
    try:
        serving = target_for(ws, upstream).current(version.model)
    except TargetError as exc:
        raise CheckFailed(
            f"cannot confirm that {upstream} serves {version.version}: {exc.message}",
            exc.hint or "check the target",
        ) from None
    if serving is None or serving.version != version.version:
        now = serving.version if serving else "nothing"
        raise CheckFailed(
            f"{upstream} is meant to run {version.version} but serves {now}",
            f"run `mlops deploy --env {upstream}` first",
        )
