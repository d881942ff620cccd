"""`mlops import [DVC_YAML ...]`: an existing DVC project as pipelines/*.yaml."""

from __future__ import annotations

import sys
from pathlib import Path

from runner.commands.output import write_json
from runner.dvcimport.project import apply, plan_import
from runner.layout import ROOT_DVC_YAML


def run(*, files: list[str], name: str | None, params: str, force: bool, format: str) -> int:
    root = Path.cwd()
    plan = plan_import(
        root, files or [ROOT_DVC_YAML], name=name, top_level=params == "top", force=force
    )
    apply(root, plan)
    if format == "json":
        write_json(
            {
                "pipelines": plan.pipelines,
                "stages": plan.stages,
                "written": [path for path, _ in plan.writes],
                "moved": [{"from": a, "to": b} for a, b in plan.moves],
                "not_carried": [
                    {"file": n.file, "line": n.line, "key": n.key, "why": n.why} for n in plan.notes
                ],
            }
        )
        return 0
    for original, copy in plan.moves:
        sys.stdout.write(f"moved {original} to {copy}\n")
    for path, _ in plan.writes:
        sys.stdout.write(f"wrote {path}\n")
    for note in plan.notes:
        sys.stdout.write(f"not carried: {note}\n")
    sys.stdout.write(
        f"imported {plan.stages} stage(s) into {len(plan.pipelines)} pipeline(s)"
        + (f"; {len(plan.notes)} key(s) not carried as written" if plan.notes else "")
        + "\nnext: review pipelines/, then mlops compile && dvc status\n"
    )
    return 0
