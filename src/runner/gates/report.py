"""Render a gate report: a terminal table, JSON for machines, Markdown for a PR.

The verdict always comes first; then one row per rule bound (metric,
candidate, baseline, delta, rule, result), the notes on rules held to the base
branch, the params that differ from the baseline, and which stages ran.
"""

from __future__ import annotations

import json
from typing import Any

from runner.gates.evaluate import GateReport
from runner.gates.rules import Check

_ICON = {"pass": "✅", "fail": "❌", "skip": "⏭️"}


def _num(value: float | None) -> str:
    return "-" if value is None else f"{value:.4g}"


def _delta(value: float | None) -> str:
    return "-" if value is None else f"{value:+.4g}"


def _headline(report: GateReport) -> str:
    verdict = "passed" if report.passed else "FAILED"
    return f"{report.pipeline}: gate {verdict}"


def _compared(report: GateReport) -> str:
    base = report.baseline
    if base.metrics is None and not base.broken:
        return f"no baseline: {base.reason}"
    if base.broken:
        return f"baseline unavailable: {base.reason}"
    return f"compared with {base.label}"


def text(report: GateReport) -> str:
    lines = [f"{_headline(report)} ({_compared(report)})"]
    if report.variants:
        lines.append(_variants_text(report))
    rows = [("metric", "candidate", "baseline", "delta", "rule", "result")]
    rows += [
        (c.metric, _num(c.candidate), _num(c.baseline), _delta(c.delta), c.rule, c.result)
        for c in report.verdict.checks
    ]
    if report.verdict.checks:
        widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
        for row in rows:
            lines.append(
                "  "
                + "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
            )
        for check in report.verdict.checks:
            if check.result != "pass":
                lines.append(f"  {check.metric} {check.rule}: {check.reason}")
    for note in [*report.verdict.notes, *report.notes]:
        lines.append(f"  note: {note}")
    if report.params_changed:
        shown = ", ".join(f"{k} {_value(a)} -> {_value(b)}" for k, a, b in report.params_changed)
        lines.append(f"  params changed: {shown}")
    if report.stages is not None:
        lines.append("  " + _stages_line(report.stages))
    return "\n".join(lines) + "\n"


def _variants_text(report: GateReport) -> str:
    parts = []
    for name, verdict in report.variants.items():
        value = (report.candidates.get(name) or {}).get(report.select_metric or "")
        mark = " <- selected" if name == report.selected else ""
        parts.append(
            f"  variant {name}: {'pass' if verdict.passed else 'fail'}"
            + (f" ({report.select_metric}={_num(value)})" if report.select_metric else "")
            + mark
        )
    return "\n".join(parts)


def _value(value: Any) -> str:
    return "(none)" if value is None else json.dumps(value)


def _stages_line(stages: dict[str, list[str]]) -> str:
    return (
        f"stages (last mlops run): ran {len(stages['ran'])}, "
        f"restored from the run-cache {len(stages['restored'])}, "
        f"up to date {len(stages['unchanged'])}, failed {len(stages['failed'])}"
    )


def as_json(report: GateReport) -> dict[str, Any]:
    def check(c: Check) -> dict[str, Any]:
        return {
            "metric": c.metric,
            "rule": c.rule,
            "candidate": c.candidate,
            "baseline": c.baseline,
            "delta": c.delta,
            "result": c.result,
            "reason": c.reason,
            "held": c.note or None,
        }

    base = report.baseline
    return {
        "pipeline": report.pipeline,
        "passed": report.passed,
        "baseline": {
            "label": base.label,
            "commit": base.commit,
            "available": base.metrics is not None and not base.broken,
            "reason": base.reason or None,
        },
        "base_ref": report.base_ref,
        "checks": [check(c) for c in report.verdict.checks],
        "notes": [*report.verdict.notes, *report.notes],
        "variants": {
            name: {"passed": v.passed, "metrics": report.candidates.get(name)}
            for name, v in report.variants.items()
        },
        "selected": report.selected,
        "params_changed": [
            {"param": k, "baseline": a, "candidate": b} for k, a, b in report.params_changed
        ],
        "stages": report.stages,
    }


def markdown(report: GateReport) -> str:
    icon = "✅" if report.passed else "❌"
    out = [
        f"### {icon} {_headline(report)}",
        "",
        f"{_compared(report)[0].upper()}{_compared(report)[1:]}.",
        "",
    ]
    if report.variants:
        out += ["| variant | verdict | " + (report.select_metric or "") + " |", "|---|---|---|"]
        for name, verdict in report.variants.items():
            value = (report.candidates.get(name) or {}).get(report.select_metric or "")
            chosen = " **(selected)**" if name == report.selected else ""
            out.append(
                f"| {name}{chosen} | {'pass' if verdict.passed else 'fail'} | {_num(value)} |"
            )
        out.append("")
    if report.verdict.checks:
        out += [
            "| metric | candidate | baseline | delta | rule | result |",
            "|---|---:|---:|---:|---|---|",
        ]
        for c in report.verdict.checks:
            result = f"{_ICON[c.result]} {c.result}: {c.reason}"
            rule = f"{c.rule} (held)" if c.note else c.rule
            out.append(
                f"| {c.metric} | {_num(c.candidate)} | {_num(c.baseline)} | {_delta(c.delta)} "
                f"| {rule} | {result} |"
            )
        out.append("")
    notes = [*report.verdict.notes, *report.notes]
    if notes:
        out += [f"- {note}" for note in notes] + [""]
    if report.params_changed:
        out += [
            "**Params that differ from the baseline**",
            "",
            "| param | baseline | candidate |",
            "|---|---|---|",
        ]
        out += [f"| `{k}` | {_value(a)} | {_value(b)} |" for k, a, b in report.params_changed]
        out.append("")
    if report.stages is not None:
        out += [f"**Stages** ({_stages_line(report.stages).split(': ', 1)[1]})", ""]
        for key, label in (
            ("ran", "ran"),
            ("restored", "from the run-cache"),
            ("unchanged", "up to date"),
            ("failed", "failed"),
        ):
            if report.stages[key]:
                out.append(f"- {label}: {', '.join(f'`{s}`' for s in report.stages[key])}")
        out.append("")
    return "\n".join(out).rstrip("\n") + "\n"
