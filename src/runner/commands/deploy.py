"""`mlops deploy [--env ENV]`: make each target serve what deployments.yaml says."""

from __future__ import annotations

import sys

from runner.commands.output import write_json
from runner.config.load import Workspace
from runner.deploy.reconcile import DeployOutcome, DeployStopped, reconcile
from runner.errors import CheckFailed, MlopsError, UsageError, did_you_mean
from runner.registry import versions


def run(*, ws: Workspace, format: str, env: str | None, stage_tags: bool) -> int:
    envs = list(ws.project.environments)
    if env is not None and env not in envs:
        raise UsageError(
            f"no environment named '{env}'{did_you_mean(env, envs)}",
            f"environments: {', '.join(envs) or 'none'}",
        )
    chosen = [env] if env else [e for e in envs if e in ws.deployments]
    outcomes: list[DeployOutcome] = []
    failures: list[str] = []
    moved: list[str] = []  # failed deploys whose pointer did move (or may have)
    for name in chosen:
        for model, wanted in sorted(ws.deployments.get(name, {}).items()):
            try:
                outcome = reconcile(ws, name, model, wanted)
            except MlopsError as exc:
                failures.append(f"{name}/{model}: {exc.message}")
                if isinstance(exc, DeployStopped) and exc.moved is not False:
                    moved.append(f"{name}/{model}")
                sys.stderr.write(f"{name}: {model}: FAILED: {exc.message}\n")
                if exc.hint:
                    sys.stderr.write(f"  hint: {exc.hint}\n")
                continue
            outcomes.append(outcome)
            if stage_tags and outcome.action == "deployed":
                versions.assign_stage(ws.root, model, outcome.version, name)
            if format == "text":
                sys.stdout.write(_line(outcome))
    if format == "json":
        write_json([o.__dict__ for o in outcomes], sort_keys=True)
    nothing = not any(ws.deployments.get(n) for n in chosen)
    if nothing and format == "text":
        sys.stdout.write("nothing to deploy: deployments.yaml names no version here\n")
    if failures:
        kept = "the previous versions keep serving"
        if moved:
            kept = f"see above what {', '.join(moved)} serve(s) now"
        raise CheckFailed(
            f"{len(failures)} deployment(s) failed; {kept}",
            "fix the cause above and run `mlops deploy` again; it resumes safely",
        )
    return 0


def _line(outcome: DeployOutcome) -> str:
    if outcome.action == "unchanged":
        return f"{outcome.env}: {outcome.model} {outcome.version} already serving; nothing to do\n"
    if outcome.action == "repaired":
        return (
            f"{outcome.env}: {outcome.model} {outcome.version} already serving; "
            "recorded the audit entry an interrupted deploy missed\n"
        )
    return f"{outcome.env}: {outcome.model} {outcome.previous or '(none)'} -> {outcome.version}\n"
