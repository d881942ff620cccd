"""What `dvc status` still calls changed after a run: a run that reports success must
leave nothing behind, and this is how `mlops run` checks it."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

from runner import proc
from runner.pipeline.repro import display_name


def changed_stages(root: Path, targets: Sequence[str]) -> list[str]:
    """Stages (`iris:train`) that `dvc status` lists as changed, `always_changed` ones aside."""
    # With targets (chosen pipelines' root stages), their upstream stages count too.
    deps = ["--with-deps"] if targets else []
    result = proc.run(proc.dvc_cmd("status", "--json", *deps, *targets), cwd=root)
    try:
        report = json.loads(result.stdout or "{}")
    except ValueError:
        return []
    out = []
    for stage, entries in sorted(report.items()):
        if not isinstance(entries, list) or not entries:
            continue
        if all(entry == "always changed" for entry in entries):
            continue
        if ".dvc" in stage.rsplit(":", 1)[0].rsplit("/", 1)[-1]:
            continue  # a `dvc add` file: its data is the user's, not a stage to run
        out.append(display_name(stage))
    return out
