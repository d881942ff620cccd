"""`mlops gate PIPELINE`: evaluate the pipeline's rules; exit 0 pass, 1 fail."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

from runner.commands.output import write_json
from runner.config.load import Workspace
from runner.errors import CheckFailed, UsageError
from runner.fsutil import write_atomic
from runner.gates import report as render
from runner.gates.evaluate import default_base, gate_pipeline


def run(
    *,
    ws: Workspace,
    format: str,
    pipeline: str,
    baseline: str | None,
    base: str | None,
    json_path: str | None,
    markdown_path: str | None,
    step_summary: bool,
) -> int:
    outputs = (("--json", json_path, "gate.json"), ("--markdown", markdown_path, "gate.md"))
    for option, path, example in outputs:
        if path and Path(path).is_dir():  # refused before the gate runs, not after
            raise UsageError(
                f"{option} {path}: is a folder, not a file", f"name a file: {option} {example}"
            )
    pfile = ws.pipeline(pipeline)
    base_ref = base if base is not None else default_base(ws)
    result = gate_pipeline(ws, pfile, baseline_spec=baseline, base_ref=base_ref)
    if json_path:
        write_report(json_path, "--json", json.dumps(render.as_json(result), indent=2) + "\n")
    if markdown_path:
        write_report(markdown_path, "--markdown", render.markdown(result))
    summary_file = os.environ.get("GITHUB_STEP_SUMMARY")
    if step_summary and summary_file:
        with open(summary_file, "a", encoding="utf-8") as fh:
            fh.write(render.markdown(result) + "\n")
    if format == "json":
        write_json(render.as_json(result))
    elif format == "markdown":
        sys.stdout.write(render.markdown(result))
    else:
        sys.stdout.write(render.text(result))
    if not result.passed:
        failed = result.verdict.failed
        first = f"{failed[0].metric} {failed[0].rule}: {failed[0].reason}" if failed else ""
        if result.stale:
            # The rules were never checked against this pipeline's model: re-running is the fix.
            hint = f"run `mlops run` to bring the metrics up to date, then `mlops gate {pipeline}`"
        else:
            hint = "see the table above; fix the model or the data, not the rule"
        raise CheckFailed(f"gate failed for {pipeline}" + (f": {first}" if first else ""), hint)
    return 0


def write_report(path: str, option: str, text: str) -> None:
    try:
        write_atomic(Path(path), text)
    except (OSError, ValueError) as exc:  # ValueError: a NUL in the path
        why = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise UsageError(
            f"{option} {path}: cannot write it: {why}", f"name a writable file for {option}"
        ) from exc
