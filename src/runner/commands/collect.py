"""`mlops collect PIPELINE`: the last job of a sharded sweep.

Pull what the shard jobs pushed, reproduce the pipeline (every variant comes
back from the run-cache, nothing is trained), select the champion with
`gates.select`, gate it and print one table of all variants.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from runner.commands import run as run_verb
from runner.commands.gate import write_report
from runner.commands.output import write_json
from runner.config.load import PipelineFile, Workspace
from runner.config.models import StepStage
from runner.config.steps import STEPS
from runner.errors import CheckFailed, UsageError
from runner.gates import report as render
from runner.gates.evaluate import GateReport, default_base, gate_pipeline
from runner.pipeline import summary as last_run
from runner.project.shards import Shard, assigned, shard_count
from runner.project.sweep import stages_of, variants


def run(
    *,
    ws: Workspace,
    format: str,
    pipeline: str,
    no_pull: bool,
    push: bool,
    baseline: str | None,
    markdown_path: str | None,
    json_path: str | None,
) -> int:
    for option, path, example in (
        ("--markdown", markdown_path, "collect.md"),
        ("--json", json_path, "gate.json"),
    ):
        if path and Path(path).is_dir():  # refused before anything runs
            raise UsageError(
                f"{option} {path}: is a folder, not a file", f"name a file: {option} {example}"
            )
    pfile = ws.pipeline(pipeline)
    if not pfile.model.sweep:
        raise UsageError(
            f"{pipeline} has no sweep: to collect",
            f"run it as one job: mlops run {pipeline} && mlops gate {pipeline}",
        )
    # `mlops run` does the work (compile, pull, repro from the run-cache); it prints
    # progress on stderr and, with this format, no summary: ours is the one output.
    run_verb.run(
        ws=ws,
        format="none",
        pipelines=[pipeline],
        no_run_cache=False,
        force=False,
        pull=not no_pull,
        locked=False,
        shard=None,
        push=push,
    )
    summary = last_run.read(ws.root)
    ran = list(summary.ran) if summary else []
    trained = [s for s in ran if s in training_stages(pfile)]
    result = gate_pipeline(ws, pfile, baseline_spec=baseline, base_ref=default_base(ws))
    rows = variant_rows(ws, pfile, result)
    if markdown_path:
        write_report(markdown_path, "--markdown", markdown(result, rows, ran))
    if json_path and not trained:
        # What `mlops gate --json` writes: `mlops ci collect` reads it as the gate outcome
        # (none when a variant had to be trained here: that job failed before its gate).
        write_report(json_path, "--json", json.dumps(render.as_json(result), indent=2) + "\n")
    if format == "json":
        write_json(as_json(result, rows, ran))
    elif format == "markdown":
        sys.stdout.write(markdown(result, rows, ran))
    else:
        sys.stdout.write(text(result, rows, ran))
    if trained:
        raise CheckFailed(
            f"collect had to train {len(trained)} variant stage(s) no shard had pushed: "
            + ", ".join(trained),
            f"run every shard with `mlops run {pipeline} --shard I/N --push` against the same "
            "DVC remote before collecting",
        )
    if not result.passed:
        failed = result.verdict.failed
        first = (
            f"{failed[0].metric} {failed[0].rule}: {failed[0].reason}"
            if failed
            else "; ".join(result.verdict.notes) or "see the table above"
        )
        raise CheckFailed(
            f"gate failed for {pipeline}: {first}",
            "see the table above; fix the model or the data, not the rule",
        )
    return 0


def training_stages(pfile: PipelineFile) -> set[str]:
    """The variant stages that train (`pipeline:stage`): custom ones, and steps writing a model.

    A step that only scores (evaluate) may run again: DVC keeps no run-cache entry
    for a stage with an uncached output folder (evaluate's plots).
    """
    return {
        f"{pfile.name}:{name}"
        for name, item in stages_of(pfile).items()
        if item.variant is not None
        and not (
            isinstance(item.stage, StepStage)
            and item.stage.step in STEPS
            and "model" not in STEPS[item.stage.step].outputs
        )
    }


def variant_rows(ws: Workspace, pfile: PipelineFile, result: GateReport) -> list[dict[str, Any]]:
    """One row per variant: its shard, params, metrics, verdict, and whether it won."""
    count = shard_count(ws, pfile)
    grid = variants(pfile.model.sweep)
    shard_of = {
        v.name: index for index in range(1, count + 1) for v in assigned(grid, Shard(index, count))
    }
    return [
        {
            "variant": v.name,
            "shard": f"{shard_of[v.name]}/{count}",
            "params": v.values,
            "metrics": result.candidates.get(v.name) or {},
            "passed": result.variants[v.name].passed if v.name in result.variants else False,
            "selected": v.name == result.selected,
        }
        for v in grid
    ]


def _metric_names(rows: list[dict[str, Any]]) -> list[str]:
    return sorted({k for row in rows for k, v in row["metrics"].items() if _is_number(v)})


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _cells(row: dict[str, Any], metrics: list[str]) -> list[str]:
    values = [row["metrics"].get(m) for m in metrics]
    return [
        row["variant"] + (" *" if row["selected"] else ""),
        row["shard"],
        "pass" if row["passed"] else "fail",
        *(f"{v:.4g}" if _is_number(v) else "-" for v in values),
    ]


def _ran_line(ran: list[str]) -> str:
    return f"stages run by collect: {', '.join(ran) if ran else 'none (all restored)'}"


def text(result: GateReport, rows: list[dict[str, Any]], ran: list[str]) -> str:
    """The variants as a table (the selected one starred), then the gate report."""
    metrics = _metric_names(rows)
    table = [["variant", "shard", "gate", *metrics], *(_cells(r, metrics) for r in rows)]
    widths = [max(len(r[i]) for r in table) for i in range(len(table[0]))]
    lines = [
        "  ".join(cell.ljust(w) for cell, w in zip(r, widths, strict=True)).rstrip() for r in table
    ]
    head = f"{result.pipeline}: {len(rows)} variants; selected: {result.selected or 'none'}"
    return "\n".join([head, *lines, _ran_line(ran), "", render.text(result)])


def markdown(result: GateReport, rows: list[dict[str, Any]], ran: list[str]) -> str:
    """The same for a pull request comment or a job summary."""
    metrics = _metric_names(rows)
    out = [
        f"## {result.pipeline}: {len(rows)} sweep variants",
        "",
        "| " + " | ".join(["variant", "shard", "gate", *metrics]) + " |",
        "|---|---|---|" + "---:|" * len(metrics),
    ]
    for row in rows:
        cells = _cells(row, metrics)
        if row["selected"]:
            cells[0] = f"**{row['variant']}** (selected)"
        out.append("| " + " | ".join(cells) + " |")
    out += ["", _ran_line(ran)[0].upper() + _ran_line(ran)[1:] + ".", ""]
    return "\n".join(out) + "\n" + render.markdown(result)


def as_json(result: GateReport, rows: list[dict[str, Any]], ran: list[str]) -> dict[str, Any]:
    return {
        "pipeline": result.pipeline,
        "selected": result.selected,
        "passed": result.passed,
        "variants": rows,
        "ran": ran,
        "gate": render.as_json(result),
    }
