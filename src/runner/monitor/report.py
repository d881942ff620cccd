"""The monitor reports as text: a terminal table and Markdown (an issue or job summary)."""

from __future__ import annotations

from runner.monitor.result import ColumnResult, MonitorResult

# Hidden in the Markdown report so the workflow finds its own issue again.
MARKER = "<!-- mlops-monitor:{model}:{env} -->"


def headline(result: MonitorResult) -> str:
    """One line: what was checked and the verdict."""
    return (
        f"{result.model} {result.version} on {result.env}: {result.verdict} "
        f"({result.rows} rows from {result.source}; reference {result.reference_rows} rows)"
    )


def _pct(value: float) -> str:
    return f"{value:.1%}"


def _row(c: ColumnResult) -> list[str]:
    name = c.name + (" (key)" if c.key else "")
    if c.role == "prediction":
        name = "(prediction)"
    missing = (
        f"{_pct(c.current_missing)} ({_pct(c.reference_missing)})" if c.role != "added" else ""
    )
    return [
        name,
        c.kind or "-",
        c.status,
        c.summary or "-",
        missing,
        "; ".join([*c.reasons, *c.notes]) or "",
    ]


HEADER = ["column", "type", "status", "test", "missing (training)", "findings"]


def table_rows(result: MonitorResult) -> list[list[str]]:
    return [_row(c) for c in result.columns]


def footer(result: MonitorResult) -> list[str]:
    """The lines under the table: performance, notes, and why the check failed."""
    lines: list[str] = []
    if result.performance is not None:
        perf = result.performance
        lines.append(f"performance on {perf.rows} labelled rows: " + _metrics(perf.metrics))
        for c in perf.checks:
            lines.append(f"  {c.result:<4} {c.metric} {c.rule}: {c.reason}")
        if perf.note:
            lines.append(f"  note: {perf.note}")
    lines += [f"note: {n}" for n in result.notes]
    share = (
        f"drifted columns: {_pct(result.drift_share)} "
        f"(dataset drift at {_pct(result.drift_share_threshold)})"
    )
    lines.append(share)
    lines += [f"FAILED: {r}" for r in result.reasons] or ["no drift"]
    return lines


def _metrics(metrics: dict[str, float]) -> str:
    return ", ".join(f"{k}={v:g}" for k, v in sorted(metrics.items())) or "none"


def markdown(result: MonitorResult) -> str:
    """The report for a GitHub issue or job summary."""
    icon = {"ok": "✅", "drift": "🔴", "degraded": "🔴", "undecided": "🟡"}[result.verdict]
    out = [
        MARKER.format(model=result.model, env=result.env),
        f"## {icon} `{result.model}` {result.version} on `{result.env}`: {result.verdict}",
        "",
        f"{result.rows} rows from {result.source}, checked {result.time} against the "
        f"{result.reference_rows} training rows of {result.version}.",
        "",
    ]
    if result.reasons:
        out += [f"- **{r}**" for r in result.reasons] + [""]
    out += [
        "| " + " | ".join(HEADER) + " |",
        "|" + "---|" * len(HEADER),
    ]
    for c in result.columns:
        cells = _row(c)
        cells[0] = f"`{cells[0]}`"
        if c.status != "ok":
            cells[2] = f"**{cells[2]}**"
        out.append("| " + " | ".join(cell.replace("|", "\\|") for cell in cells) + " |")
    out.append("")
    if result.performance is not None:
        perf = result.performance
        out += [
            f"**Performance** on {perf.rows} labelled rows: {_metrics(perf.metrics)}",
            "",
            "| metric | rule | current | registered | result | reason |",
            "|---|---|---|---|---|---|",
        ]
        for p in perf.checks:
            cur = "" if p.current is None else f"{p.current:g}"
            reg = "" if p.registered is None else f"{p.registered:g}"
            out.append(f"| {p.metric} | {p.rule} | {cur} | {reg} | {p.result} | {p.reason} |")
        out.append("")
    out += [f"_{n}_" for n in result.notes]
    return "\n".join(out).rstrip("\n") + "\n"
