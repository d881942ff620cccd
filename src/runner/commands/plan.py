"""`mlops plan [--base REF]`: what a branch changes, and which stages re-run and why."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable

from runner.commands.output import write_json
from runner.config.load import Workspace
from runner.plan import ABSENT, Change, Item, Plan, Run, build_plan, resolve_base, show
from runner.plan.affected import affected_pipelines, changed_environments
from runner.plan.matrix import collect_jobs, include, matrix

MARK = {"added": "+", "removed": "-", "changed": "~"}
RUN_WORDS = {"rerun": "re-runs", "maybe": "may re-run", "unchanged": "unchanged"}
# (title, markdown columns) of each section, in report order.
TITLES = {
    "pipelines": ("pipelines", ("pipeline", "change")),
    "stages": ("stages", ("stage", "change")),
    "params": ("params", ("param", "base", "branch")),
    "options": ("step options", ("stage", "option", "base", "branch")),
    "gates": ("gate rules", ("pipeline", "rule", "base", "branch")),
    "environments": ("environments", ("environment", "change", "base", "branch")),
    "deployments": ("deployments", ("environment/model", "base", "branch")),
    "settings": ("settings", ("setting", "base", "branch")),
}


def run(*, ws: Workspace, format: str, base: str | None) -> int:
    """Print the plan of the work tree against `base` (default: the main branch)."""
    ref, commit = resolve_base(ws.root, base, ws.project.ci.main_branch)
    # What CI reads (the affected pipelines, the matrix) leaves out pipelines the change
    # cannot reach; the other formats show every stage's prediction.
    plan = build_plan(ws, ref, commit, narrow=format == "outputs")
    if format == "outputs":
        # For $GITHUB_OUTPUT: JSON lists of names that validation already proved safe.
        affected = affected_pipelines(plan, ws)
        pipelines = json.dumps(affected)
        environments = json.dumps(changed_environments(plan, ws))
        sys.stdout.write(f"pipelines={pipelines}\nenvironments={environments}\n")
        # The jobs: `strategy.matrix: ${{ fromJSON(needs.plan.outputs.matrix) }}`.
        jobs = json.dumps(include(matrix(ws, affected)))
        collects = json.dumps(include(collect_jobs(ws, affected)))
        sys.stdout.write(f"matrix={jobs}\ncollect={collects}\n")
    elif format == "json":
        affected = affected_pipelines(plan, ws)
        write_json(
            {
                **plan.to_dict(),
                "matrix": [job.to_dict() for job in matrix(ws, affected)],
                "collect": [job.to_dict() for job in collect_jobs(ws, affected)],
            }
        )
    elif format == "markdown":
        sys.stdout.write(markdown(plan))
    else:
        sys.stdout.write(text(plan))
    return 0


Entry = tuple[str, str, Item | None, Change | None]


def _entries(plan: Plan, section: str) -> list[Entry]:
    """(mark, name, item, change) rows of a section: one per change, else one per item."""
    rows: list[Entry] = []
    for entry in getattr(plan, section):
        if isinstance(entry, Change):
            rows.append((MARK[entry.status], entry.key, None, entry))
        elif entry.changes:
            rows += [(MARK[c.status], entry.name, entry, c) for c in entry.changes]
        else:
            rows.append((MARK[entry.status], entry.name, entry, None))
    return rows


# ---------------------------------------------------------------------- text


def text(plan: Plan) -> str:
    """The plan for a terminal: one line per change, then every stage's prediction."""
    lines = [f"plan: {plan.base} ({plan.commit[:7]}) -> work tree", plan.summary()]
    if plan.note:
        lines.append(f"note: {plan.note}")
    for section, (title, _) in TITLES.items():
        rows = [_text_row(*row) for row in _entries(plan, section)]
        if rows:
            lines += ["", title, *rows]
    if plan.runs:
        lines += ["", "re-runs", *_text_runs(plan.runs)]
    return "\n".join(lines) + "\n"


def _text_row(mark: str, name: str, item: Item | None, change: Change | None) -> str:
    if change is None:
        assert item is not None
        return f"  {mark} {name}" + (f": {', '.join(item.fields)}" if item.fields else "")
    key = "" if change.key == name else f" {change.key}"
    note = f" ({change.note})" if change.note else ""
    return f"  {mark} {name}{key}: {show(change.old)} -> {show(change.new)}{note}"


def _text_runs(runs: Iterable[Run]) -> list[str]:
    runs = list(runs)
    width = max(len(r.stage) for r in runs)
    lines = []
    for r in runs:
        head = f"  {r.stage:<{width}}  {RUN_WORDS[r.status]:<10}"
        reasons = [x.text() for x in r.reasons] or [""]
        lines.append(f"{head}  {reasons[0]}".rstrip())
        lines += [f"{'':<{len(head)}}  {reason}" for reason in reasons[1:]]
    return lines


# ------------------------------------------------------------------ markdown


def _code(value: str) -> str:
    fence = "``" if "`" in value else "`"
    pad = " " if fence == "``" else ""
    return f"{fence}{pad}{value}{pad}{fence}"


def _cell(value: str) -> str:
    return value.replace("|", "\\|").replace("\n", " ")


def _value(value: object) -> str:
    return "—" if value is ABSENT else _code(show(value))


def _table(columns: Iterable[str], rows: Iterable[Iterable[str]]) -> list[str]:
    cols = list(columns)
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    lines += ["| " + " | ".join(_cell(c) for c in row) + " |" for row in rows]
    return lines


def _md_row(section: str, name: str, item: Item | None, change: Change | None) -> list[str]:
    if change is None:
        assert item is not None
        what = f"{item.status}: {', '.join(item.fields)}" if item.fields else item.status
        extra = ["", ""] if section == "environments" else []
        return [_code(name), what, *extra]
    new = _value(change.new) + (f" **{change.note}**" if change.note else "")
    if section in ("params", "deployments", "settings"):
        return [_code(change.key), _value(change.old), new]
    return [_code(name), change.key, _value(change.old), new]


def markdown(plan: Plan) -> str:
    """The plan for a pull-request comment: summary first, then one table per section."""
    lines = [
        "## mlops plan",
        "",
        f"**{plan.summary()}** (base `{plan.base}` at `{plan.commit[:7]}`)",
    ]
    if plan.note:
        lines += ["", f"> {plan.note}"]
    for section, (title, columns) in TITLES.items():
        rows = [_md_row(section, *row[1:]) for row in _entries(plan, section)]
        if rows:
            lines += ["", f"### {title.capitalize()}", "", *_table(columns, rows)]
    moving = [r for r in plan.runs if r.status != "unchanged"]
    if moving:
        rows = [
            [_code(r.stage), RUN_WORDS[r.status], "<br>".join(x.text() for x in r.reasons)]
            for r in moving
        ]
        lines += ["", "### Stages that re-run", "", *_table(("stage", "status", "why"), rows)]
    still = [_code(r.stage) for r in plan.runs if r.status == "unchanged"]
    if still:
        lines += ["", f"Unchanged: {', '.join(still)}."]
    return "\n".join(lines) + "\n"
