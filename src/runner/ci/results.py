"""A pipeline's results: the files CI commits to a pull request after running it.

Results are what git tracks of a run: the `dvc.lock` files, and the outputs DVC
does not cache (metrics, plot data a stage declares uncached). Never data or
models, nor the manifest and the evaluate stage's rendered plots (cached, so the
run-cache restores those stages): those are ignored by git and live in the DVC
remote.

The pipeline job runs the pull request's code with the DVC remote's credentials
and a read-only token; it `collect`s its results into a folder that travels as a
workflow artifact. The results job, which holds the write token and runs no
pipeline, `apply`s them: only the files each pipeline may produce, and the root
`dvc.lock` merged stage by stage, so two pipelines give one commit, not a race.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from runner import git, yamlio
from runner.config.load import Workspace
from runner.errors import CheckFailed
from runner.fsutil import write_atomic
from runner.layout import LAST_RUN, ROOT_DVC_LOCK, pipeline_dvc_lock
from runner.project.graph import build_graph

# The reports `mlops gate` writes in the pipeline job (the workflow names them so).
GATE_JSON = "gate.json"
GATE_MD = "gate.md"
OUTCOME = "outcome.json"
FILES = "files"


@dataclass(frozen=True)
class Outcome:
    """What one pipeline job left for the results job."""

    pipeline: str
    head: str
    gate: dict[str, Any] | None
    report: str
    failed: tuple[str, ...]
    files: tuple[str, ...]


def _declared(ws: Workspace, pipeline: str) -> list[str]:
    outs = [o for n in build_graph(ws).nodes.values() if n.pipeline == pipeline for o in n.outs]
    return [ROOT_DVC_LOCK, pipeline_dvc_lock(pipeline), *outs]


def result_files(ws: Workspace, pipeline: str) -> list[str]:
    """The files of `pipeline`'s results in the work tree that git would commit."""
    present = [p for p in _declared(ws, pipeline) if (ws.root / p).exists()]
    found = set(git.tracked_files(ws.root, present))
    found |= set(git.tracked_files(ws.root, present, untracked=True))
    return sorted(p for p in found if (ws.root / p).is_file())


def _is_result(ws: Workspace, pipeline: str, path: str) -> bool:
    return any(path == d or path.startswith(d.rstrip("/") + "/") for d in _declared(ws, pipeline))


def collect(
    ws: Workspace,
    pipeline: str,
    dest: Path,
    gated: tuple[dict[str, Any] | None, str] | None = None,
) -> Outcome:
    """Copy the pipeline's results and gate reports into `dest/<pipeline>/`.

    The gate report is `gated` (its JSON, or None when the gate did not run, and its
    Markdown) when given, else what `mlops gate` or `mlops collect` wrote to the work
    tree's `gate.json` and `gate.md`.
    """
    ws.pipeline(pipeline)
    folder = dest / pipeline
    if folder.exists():
        shutil.rmtree(folder)
    if gated is not None:
        gate, report = gated
    else:
        gate_json = ws.root / GATE_JSON
        gate = json.loads(gate_json.read_text("utf-8")) if gate_json.is_file() else None
        report = (ws.root / GATE_MD).read_text("utf-8") if (ws.root / GATE_MD).is_file() else ""
    # Without a gate the run did not finish: its files are not results.
    files = result_files(ws, pipeline) if gate is not None else []
    for rel in files:
        target = folder / FILES / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(ws.root / rel, target)
    head = git.rev_parse(ws.root, "HEAD") or ""
    outcome = Outcome(pipeline, head, gate, report, _failed(ws), tuple(files))
    folder.mkdir(parents=True, exist_ok=True)
    write_atomic(folder / OUTCOME, json.dumps(outcome.__dict__, indent=2, sort_keys=True) + "\n")
    return outcome


def _failed(ws: Workspace) -> tuple[str, ...]:
    try:
        last = json.loads((ws.root / LAST_RUN).read_text("utf-8"))
    except (OSError, ValueError):
        return ()
    return tuple(str(s) for s in last.get("failed", ())) if isinstance(last, dict) else ()


def read_outcomes(ws: Workspace, source: Path) -> dict[str, Outcome]:
    """The outcomes in `source`, one folder per pipeline; refuses what is not ours."""
    found: dict[str, Outcome] = {}
    if not source.is_dir():
        return found
    for folder in sorted(p for p in source.iterdir() if p.is_dir()):
        name = folder.name
        if name not in ws.pipelines:
            raise CheckFailed(
                f"{folder}: no pipeline named {name} in this project",
                "the results folder holds one folder per pipeline, as `mlops ci collect` writes",
            )
        try:
            data = json.loads((folder / OUTCOME).read_text("utf-8"))
            outcome = Outcome(
                pipeline=name,
                head=str(data["head"]),
                gate=data["gate"],
                report=str(data["report"]),
                failed=tuple(data["failed"]),
                files=tuple(data["files"]),
            )
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise CheckFailed(
                f"{folder / OUTCOME}: not an outcome `mlops ci collect` wrote ({exc})",
                "re-run the pull request's workflow",
            ) from None
        for rel in outcome.files:
            if not _is_result(ws, name, rel) or ".." in Path(rel).parts:
                raise CheckFailed(
                    f"{folder}: {rel} is not a result of pipeline {name}",
                    "only dvc.lock files, metrics and uncached plots are committed",
                )
        found[name] = outcome
    return found


def apply(ws: Workspace, source: Path, outcomes: dict[str, Outcome]) -> list[str]:
    """Write the results into the work tree; the paths that now differ from HEAD."""
    written: set[str] = set()
    for name, outcome in sorted(outcomes.items()):
        for rel in outcome.files:
            data = (source / name / FILES / rel).read_bytes()
            if rel == ROOT_DVC_LOCK:
                _merge_root_lock(ws, name, data.decode("utf-8"))
            else:
                write_atomic(ws.root / rel, data)
            written.add(rel)
    return [
        rel
        for rel in sorted(written)
        if git.show(ws.root, "HEAD", f"./{rel}") != (ws.root / rel).read_text("utf-8")
    ]


def _merge_root_lock(ws: Workspace, pipeline: str, theirs: str) -> None:
    """Take `pipeline`'s stage from `theirs` into the root dvc.lock; keep the other stages."""
    path = ws.root / ROOT_DVC_LOCK
    stage = (yamlio.read(theirs) or {}).get("stages", {}).get(pipeline)
    if not path.exists() or stage is None:
        write_atomic(path, theirs)
        return

    def change(data: Any) -> None:
        yamlio.child_mapping(data, "stages")[pipeline] = stage

    text, _ = yamlio.edit(path.read_text("utf-8"), ROOT_DVC_LOCK, change)
    write_atomic(path, text)
