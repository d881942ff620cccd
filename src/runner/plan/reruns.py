"""Which DVC stages of the work tree re-run, and why: a prediction of `dvc repro`."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from runner.config import dotted
from runner.layout import PARAMS_FILE
from runner.plan.compare import diff
from runner.plan.model import ABSENT, Reason, Run, RunStatus
from runner.plan.side import Side, Stage
from runner.plan.sources import Sources
from runner.project.graph import PathIndex

_OUT_KEYS = ("outs", "metrics", "plots")


def _out_paths(body: Mapping[str, Any]) -> list[str]:
    entries = [e for key in _OUT_KEYS for e in body.get(key) or []]
    return [e if isinstance(e, str) else next(iter(e)) for e in entries]


def _delta(before: Iterable[str], after: Iterable[str], shown: int = 4) -> str:
    """`+added, -removed` paths or keys; past `shown` of them, how many more."""
    b, a = set(before), set(after)
    items = [*(f"+{p}" for p in sorted(a - b)), *(f"-{p}" for p in sorted(b - a))]
    more = len(items) - shown if len(items) > shown + 1 else 0
    return ", ".join(items[: len(items) - more]) + (f" and {more} more" if more else "")


def _tracked(body: Mapping[str, Any]) -> set[tuple[str, str]]:
    """(params file, key) for each param a stage tracks; key '' is the whole file."""
    out: set[tuple[str, str]] = set()
    for entry in body.get("params") or []:
        if isinstance(entry, str):
            out.add((PARAMS_FILE, entry))
        else:
            out.update((f, k) for f, keys in entry.items() for k in (keys or [""]))
    return out


def _lookup(data: Any, key: str) -> Any:
    """The tracked value (key '' is the whole file), or ABSENT."""
    if not key:
        return ABSENT if data is None else data
    try:
        return dotted.lookup(data, key)
    except dotted.PathError:
        return ABSENT


def _param_reasons(old: Side, new: Side, before: Stage, after: Stage) -> list[Reason]:
    tb, ta = _tracked(before.body), _tracked(after.body)
    reasons: list[Reason] = []
    if tb != ta:
        name = {(f, k): k if f == PARAMS_FILE else f"{f}:{k}" for f, k in tb | ta}
        reasons.append(Reason("params", _delta({name[p] for p in tb}, {name[p] for p in ta})))
    for file, key in sorted(tb & ta):
        for c in diff(_lookup(old.files.get(file), key), _lookup(new.files.get(file), key), key):
            if file == PARAMS_FILE:
                reasons.append(Reason("param", c.key, c.old, c.new))
            else:
                sub = c.key[len(key) + 1 :] if c.key.startswith(f"{key}.") else c.key
                reasons.append(Reason("option", sub, c.old, c.new))
    return reasons


def _definition_reasons(before: Mapping[str, Any], after: Mapping[str, Any]) -> list[Reason]:
    reasons = [Reason(key) for key in ("cmd", "wdir") if before.get(key) != after.get(key)]
    if [before.get(k) for k in _OUT_KEYS] != [after.get(k) for k in _OUT_KEYS]:
        delta = _delta(_out_paths(before), _out_paths(after))
        reasons.append(Reason("outs", delta or "flags"))
    deps = _delta(before.get("deps") or [], after.get("deps") or [])
    if deps:
        reasons.append(Reason("deps", deps))
    if after.get("always_changed"):
        reasons.append(Reason("always-changed"))
    return reasons


def _upstream(stages: Mapping[str, Stage]) -> tuple[dict[str, list[str]], dict[str, list[str]]]:
    """For each stage: the stages whose outputs it reads, and the deps no stage writes.

    A stage reads what another writes when a dep is that output, a folder holding it,
    or something inside it; a dep of the whole project (`.`) reads every output.
    """
    written = [(out, sid) for sid, st in stages.items() for out in _out_paths(st.body)]
    index = PathIndex(out for out, _ in written)
    everyone = {sid for _, sid in written}
    upstream: dict[str, list[str]] = {}
    sources: dict[str, list[str]] = {}
    for sid, stage in stages.items():
        hits = {
            dep: everyone
            if dep in ("", ".")
            else {written[position][1] for position in index.overlapping(dep)}
            for dep in stage.body.get("deps") or []
        }
        ups = set().union(*hits.values()) - {sid}
        upstream[sid] = [other for other in stages if other in ups]
        sources[sid] = [dep for dep, found in hits.items() if not found]
    return upstream, sources


def _topological(order: list[str], upstream: Mapping[str, list[str]]) -> list[str]:
    """Every stage after the stages it reads from (validation has ruled out cycles)."""
    out: dict[str, None] = {}

    def visit(sid: str, path: frozenset[str]) -> None:
        if sid not in out and sid not in path:
            for up in upstream[sid]:
                visit(up, path | {sid})
            out[sid] = None

    for sid in order:
        visit(sid, frozenset())
    return list(out)


def _own_reasons(
    old: Side, new: Side, sid: str, sources: list[str], files: Sources | None
) -> list[Reason]:
    before, after = old.stages.get(sid), new.stages[sid]
    if before is None:
        return [Reason("new")]
    reasons = _definition_reasons(before.body, after.body)
    reasons += _param_reasons(old, new, before, after)
    if files is not None:
        reasons += [r for d in sources if (r := files.reason(after, d)) is not None]
    return reasons


def predict_runs(old: Side, new: Side, root: Path, commit: str) -> list[Run]:
    """Predict, stage by stage, what `dvc repro` will re-run and why."""
    upstream, sources = _upstream(new.stages)
    checked = sorted({d for sid, ds in sources.items() if sid in old.stages for d in ds})
    files = Sources(root, commit, checked) if checked else None
    runs: dict[str, Run] = {}
    for sid in _topological(list(new.stages), upstream):
        reasons = _own_reasons(old, new, sid, sources[sid], files)
        ups = [runs[u] for u in upstream[sid] if u in runs] if sid in old.stages else []
        reasons += [  # a new stage just runs, whatever its upstream does
            Reason("upstream", up.stage, certain=up.status == "rerun")
            for up in ups
            if up.status != "unchanged"
        ]
        certain = any(r.certain for r in reasons)
        status: RunStatus = "rerun" if certain else "maybe" if reasons else "unchanged"
        runs[sid] = Run(sid, status, tuple(reasons))
    return [runs[sid] for sid in new.stages]
