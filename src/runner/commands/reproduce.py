"""`mlops reproduce MODEL@VERSION`: rebuild a version from its commit and compare.

Checks the recorded commit out in a fresh git worktree, runs the pipeline
there with every stage forced and DVC's run-cache off, and reports whether the
metrics and the model's sha256 match the version's record.
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path
from typing import Any

from runner import git, proc
from runner.commands.output import write_json
from runner.config.load import Workspace
from runner.errors import CheckFailed, UsageError
from runner.pipeline.repro import StageEvent, explain_failure, reproduce
from runner.registry import artifact, versions


def run(*, ws: Workspace, format: str, spec: str) -> int:
    model, sep, version = spec.partition("@")
    if not sep:
        raise UsageError(
            f"'{spec}' is not MODEL@VERSION", "e.g. mlops reproduce iris-classifier@v0.1.0"
        )
    found = versions.find(ws.root, model, version, ws.project.ci.main_branch)
    artifact.check_declared(ws.root, found)
    record = found.record
    pipeline = record.pipeline
    info = record.artifact
    with tempfile.TemporaryDirectory(prefix="mlops-reproduce-") as tmp:
        tree = Path(tmp) / "tree"
        git.worktree_add(ws.root, tree, found.commit)
        try:
            root = tree / git.prefix(ws.root)
            _local_remotes(ws, root)
            sys.stderr.write(
                f"reproducing {found.tag} from {found.commit[:7]} in a fresh worktree\n"
            )
            _fetch_sources(root, pipeline, found.tag)
            outcome = reproduce(
                root,
                [f"dvc.yaml:{pipeline}"],
                emit=_progress,
                run_cache=False,
                force=True,
            )
            if outcome.returncode != 0:
                cause, hint = explain_failure(outcome, root)
                raise CheckFailed(f"reproducing {found.tag} failed: {cause}", hint)
            metrics = _metrics(root, pipeline)
            model_files = artifact.manifest(root / info.path)
        finally:
            git.worktree_remove(ws.root, tree)
    expected_metrics = record.metrics
    same_metrics = metrics == expected_metrics
    same_model = artifact.digest(model_files) == info.digest
    result = {
        "version": found.tag,
        "commit": found.commit,
        "identical": same_metrics and same_model,
        "metrics": {"recorded": expected_metrics, "reproduced": metrics, "same": same_metrics},
        "model": {
            "recorded": info.digest,
            "reproduced": artifact.digest(model_files),
            "same": same_model,
        },
    }
    if format == "json":
        write_json(result, sort_keys=True)
    else:
        verdict = "identical" if result["identical"] else "DIFFERENT"
        sys.stdout.write(
            f"{found.tag}: {verdict}: metrics {'match' if same_metrics else 'differ'}, "
            f"model sha256 {'matches' if same_model else 'differs'}\n"
        )
        if not same_metrics:
            for key in sorted(set(metrics) | set(expected_metrics)):
                if metrics.get(key) != expected_metrics.get(key):
                    was, now = expected_metrics.get(key), metrics.get(key)
                    sys.stdout.write(f"  {key}: recorded {was}, reproduced {now}\n")
    if not result["identical"]:
        raise CheckFailed(f"{found.tag} does not reproduce", "see the differences above")
    return 0


def _progress(event: StageEvent) -> None:
    if event.kind in ("start", "failed"):
        sys.stderr.write(f"  {event.kind} {event.stage}\n")


def _local_remotes(ws: Workspace, root: Path) -> None:
    """Point relative local remotes at the folders the project uses (config.local).

    The URL is the one DVC uses in the project, so a clone whose `.dvc/config.local`
    points the remote elsewhere reproduces from there too.
    """
    storage = ws.project.storage
    if storage is None:
        return
    for name, remote in storage.remotes.items():
        if remote.is_relative:
            shown = proc.run(proc.dvc_cmd("config", f"remote.{name}.url"), cwd=ws.root, check=False)
            url = shown.stdout.strip() if shown.returncode == 0 else ""
            absolute = url or str((ws.root / remote.url).resolve())
            proc.run(proc.dvc_cmd("remote", "modify", "--local", name, "url", absolute), cwd=root)


def _fetch_sources(root: Path, pipeline: str, tag: str) -> None:
    """Pull the `dvc add`-tracked inputs of `pipeline` into the fresh worktree.

    Only those: every stage is re-run, so no stage output is fetched.
    """
    from runner.pipeline.sources import tracked_by_dvc
    from runner.project.graph import build_graph
    from runner.project.workspace import open_workspace as load

    graph = build_graph(load(root))
    deps = [d for node in graph.nodes.values() if node.pipeline == pipeline for d in node.deps]
    files = tracked_by_dvc(root, deps)
    if not files:
        return
    sys.stderr.write(f"fetching {', '.join(files)} from the DVC remote\n")
    result = proc.run(proc.dvc_cmd("pull", *files), cwd=root, check=False)
    if result.returncode != 0:
        lines = (result.stderr + result.stdout).splitlines()
        why = next((line for line in lines if line.startswith("ERROR:")), "dvc pull failed")
        raise CheckFailed(
            f"reproducing {tag} failed: cannot fetch {', '.join(files)} from the DVC remote: "
            f"{why.removeprefix('ERROR: ')}",
            f"push the data from a clone that has it: dvc push {' '.join(files)}",
        )


def _metrics(root: Path, pipeline: str) -> dict[str, Any]:
    from runner.gates.evaluate import metric_files
    from runner.project.workspace import open_workspace as load

    ws = load(root)
    files = metric_files(ws, ws.pipelines[pipeline])
    merged: dict[str, Any] = {}
    for path in next(iter(files.values())):
        merged.update(json.loads((root / path).read_text("utf-8")))
    return merged
