"""`mlops register PIPELINE`: record a version of the pipeline's model from HEAD."""

from __future__ import annotations

import datetime
import os
import sys
from typing import Any

from runner import git, proc, yamlio
from runner.commands.output import write_json
from runner.compile.dvcfiles import model_path
from runner.config.load import PipelineFile, Workspace
from runner.errors import CheckFailed, UsageError
from runner.gates.evaluate import freshness, gate_pipeline
from runner.layout import pipeline_dir
from runner.project.graph import build_graph
from runner.registry import artifact, versions
from runner.registry.record import ArtifactInfo, CiRun, GateCheck, GateSummary, VersionRecord


def run(*, ws: Workspace, format: str, pipeline: str, bump: str, push: bool) -> int:
    pfile = _pipeline(ws, pipeline)
    assert pfile.model.deploy is not None
    model = pfile.model.deploy.model
    commit = versions.head(ws.root)
    _require_committed(ws, pipeline)
    existing = versions.all_versions(ws.root, model)
    for item in existing:
        if item.commit == commit:
            if push and not git.remote_has_tag(ws.root, item.tag):
                # A registration killed during its push: finish it instead of refusing.
                versions.push_tag(ws.root, item.tag)
                return _report_pushed(format, item.tag)
            raise CheckFailed(
                f"commit {commit[:7]} is already registered as {item.tag}",
                "a commit is registered once; make a new commit to register a new version",
            )
    stale = freshness(ws, pipeline)
    if stale:
        raise CheckFailed(
            f"cannot register {pipeline}: {stale}", "run `mlops run`, commit dvc.lock"
        )
    report = gate_pipeline(ws, pfile, baseline_spec=None, base_ref=None, check_fresh=False)
    if not report.passed:
        failed = report.verdict.failed
        why = f": {failed[0].metric} {failed[0].rule}: {failed[0].reason}" if failed else ""
        raise CheckFailed(
            f"the gate fails for {pipeline}{why}; not registering",
            f"see `mlops gate {pipeline}`",
        )
    path = model_path(pfile, build_graph(ws))
    assert path is not None
    files = artifact.manifest(ws.root / path)
    version = versions.bump(existing[-1].version if existing else None, bump)
    record = VersionRecord(
        model=model,
        version=version,
        commit=commit,
        pipeline=pipeline,
        stages=_lock_hashes(ws, pipeline),
        params=pfile.model.params,
        metrics=next(iter(report.candidates.values())) or {},
        gate=GateSummary(
            passed=report.passed,
            baseline=report.baseline.label,
            checks=[
                GateCheck(metric=c.metric, rule=c.rule, result=c.result)
                for c in report.verdict.checks
            ],
        ),
        artifact=ArtifactInfo(path=path, digest=artifact.digest(files), files=files),
        created_at=datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        created_by=git.actor(ws.root),
        ci=_ci(),
    )
    # The artifact must be in the remote before the version exists: nothing half-done.
    _say(f"pushing {pipeline}'s outputs to the DVC remote")
    proc.run(proc.dvc_cmd("push", "--with-deps", f"dvc.yaml:{pipeline}"), cwd=ws.root)
    tag = versions.create(ws.root, record)
    if push:
        versions.push_tag(ws.root, tag)
    if format == "json":
        result = {
            "action": "registered",
            "tag": tag,
            "model": model,
            "version": version,
            "commit": commit,
            "pipeline": pipeline,
            "digest": record.artifact.digest,
            "created_by": record.created_by,
            "pushed": push,
        }
        write_json(result, sort_keys=True)
        return 0
    sys.stdout.write(
        f"registered {model} {version} at {commit[:7]} (gate passed; artifact sha256 "
        f"{record.artifact.digest[:12]})\n"
    )
    return 0


def _report_pushed(format: str, tag: str) -> int:
    if format == "json":
        write_json({"action": "pushed", "tag": tag, "pushed": True}, sort_keys=True)
    else:
        sys.stdout.write(f"{tag} was registered but not pushed: pushed it to origin\n")
    return 0


def _say(text: str) -> None:
    sys.stderr.write(text + "\n")


def _pipeline(ws: Workspace, name: str) -> PipelineFile:
    pfile = ws.pipeline(name)
    if pfile.model.deploy is None:
        raise UsageError(
            f"pipeline {name} deploys no model, so there is nothing to register",
            f"add deploy: to pipelines/{name}.yaml",
        )
    return pfile


def _require_committed(ws: Workspace, pipeline: str) -> None:
    paths = [
        f"pipelines/{pipeline}.yaml",
        pipeline_dir(pipeline),
        "params.yaml",
        "dvc.yaml",
        "dvc.lock",
    ]
    dirty = git.dirty_files(ws.root, paths)
    if dirty:
        raise CheckFailed(
            f"uncommitted changes in {', '.join(dirty)}; a version must describe a commit",
            "commit them (including dvc.lock) and register again",
        )


def _lock_hashes(ws: Workspace, pipeline: str) -> dict[str, Any]:
    try:
        lock = yamlio.read((ws.root / pipeline_dir(pipeline) / "dvc.lock").read_text())
    except FileNotFoundError:
        raise CheckFailed(
            f"{pipeline_dir(pipeline)}/dvc.lock is missing", "run `mlops run` and commit it"
        ) from None
    return artifact.lock_hashes(lock)


def _ci() -> CiRun | None:
    if not os.environ.get("GITHUB_ACTIONS"):
        return None
    env = os.environ
    server = env.get("GITHUB_SERVER_URL", "https://github.com")
    return CiRun(
        workflow=env.get("GITHUB_WORKFLOW"),
        run_id=env.get("GITHUB_RUN_ID"),
        run_url=f"{server}/{env.get('GITHUB_REPOSITORY')}/actions/runs/{env.get('GITHUB_RUN_ID')}",
        ref=env.get("GITHUB_REF"),
    )
