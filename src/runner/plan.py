"""What a branch changes against a base ref, and which DVC stages re-run and why.

Both sides are loaded strictly and compiled by the same compiler, so stages are
compared as DVC will see them: the literal `dvc.yaml` stages, the values of the
`params.yaml` and `steps.yaml` keys each stage tracks, and the files it reads.
The base is read from git into a temporary folder; the work tree is taken as it
is, uncommitted edits included. Nothing here prints: `commands/plan.py` does.
"""

from __future__ import annotations

import bisect
import hashlib
import tempfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Literal

import yaml

from runner import git
from runner.compiler import compile_project, pipeline_dir
from runner.config.load import (
    DEPLOYMENTS_FILE,
    PIPELINES_DIR,
    PROJECT_FILE,
    Workspace,
    load_workspace,
)
from runner.config.models import Gates
from runner.errors import ConfigError, UsageError

try:
    from yaml import CSafeLoader as _Loader
except ImportError:  # pragma: no cover - depends on how PyYAML was built
    from yaml import SafeLoader as _Loader  # type: ignore[assignment]

Status = Literal["added", "removed", "changed"]
RunStatus = Literal["rerun", "maybe", "unchanged"]

ROOT_DVC = "dvc.yaml"
PARAMS = "params.yaml"
_OUT_KEYS = ("outs", "metrics", "plots")
# Gate bounds, and which way each one loosens.
_LOWER_IS_LOOSER = ("min",)
_HIGHER_IS_LOOSER = ("max", "max_drop", "max_rise", "max_drop_rel", "max_rise_rel")
_NO_BASELINE = ("fail", "absolute-only", "pass")  # strictest first
# The sections of a plan that list changes, in report order.
SECTIONS: tuple[str, ...] = ("pipelines", "stages", "params", "options", "gates")
SECTIONS += ("environments", "deployments", "settings")


class _Absent:
    def __repr__(self) -> str:
        return "ABSENT"


ABSENT: Any = _Absent()
"""The value on the side that does not have the key."""


@dataclass(frozen=True)
class Change:
    """One value that differs; `old` or `new` is ABSENT when that side lacks the key."""

    key: str
    old: Any = ABSENT
    new: Any = ABSENT
    note: str | None = None  # gate bounds: "looser" or "tighter"

    @property
    def status(self) -> Status:
        if self.old is ABSENT:
            return "added"
        return "removed" if self.new is ABSENT else "changed"

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict; absent sides are left out."""
        out: dict[str, Any] = {"key": self.key, "status": self.status}
        out.update({k: v for k, v in (("old", self.old), ("new", self.new)) if v is not ABSENT})
        if self.note:
            out["note"] = self.note
        return out


@dataclass(frozen=True)
class Item:
    """A named thing added, removed or changed: the parts that changed, or the values."""

    name: str
    status: Status
    fields: tuple[str, ...] = ()
    changes: tuple[Change, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        out: dict[str, Any] = {"name": self.name, "status": self.status}
        if self.fields:
            out["fields"] = list(self.fields)
        if self.changes:
            out["changes"] = [c.to_dict() for c in self.changes]
        return out


@dataclass(frozen=True)
class Reason:
    """Why a stage re-runs. `certain` is False when the plan cannot tell."""

    kind: str  # new cmd wdir outs deps params param option dep upstream always-changed
    subject: str = ""
    old: Any = ABSENT
    new: Any = ABSENT
    certain: bool = True
    detail: str = ""

    def text(self) -> str:
        """One line for people, e.g. `param iris.train.max_depth 5 -> 3`."""
        kind, subject = self.kind, self.subject
        if kind in ("param", "option"):
            return f"{kind} {subject} {show(self.old)} -> {show(self.new)}"
        if kind == "dep":
            if not self.certain:
                return f"dep {subject}: cannot tell ({self.detail})"
            return f"dep {subject} changed" + (f" ({self.detail})" if self.detail else "")
        if kind == "upstream":
            return f"upstream {subject} " + ("re-runs" if self.certain else "may re-run")
        fixed = {"new": "new stage", "always-changed": "always_changed is set"}
        if kind in fixed:
            return fixed[kind]
        what = "tracked params" if kind == "params" else kind
        return f"{what} changed" + (f" ({subject})" if subject else "")

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict, with the line `text()` gives."""
        out: dict[str, Any] = {"kind": self.kind}
        if self.subject:
            out["subject"] = self.subject
        out.update({k: v for k, v in (("old", self.old), ("new", self.new)) if v is not ABSENT})
        out.update(certain=self.certain, text=self.text())
        return out


@dataclass(frozen=True)
class Run:
    """The prediction for one DVC stage of the work tree (`iris:train`, or `iris` at the root)."""

    stage: str
    status: RunStatus
    reasons: tuple[Reason, ...] = ()


@dataclass(frozen=True)
class Plan:
    """Everything `mlops plan` reports, in a fixed order."""

    base: str
    commit: str
    note: str | None = None
    pipelines: tuple[Item, ...] = ()
    stages: tuple[Item, ...] = ()
    params: tuple[Change, ...] = ()
    options: tuple[Item, ...] = ()
    gates: tuple[Item, ...] = ()
    environments: tuple[Item, ...] = ()
    deployments: tuple[Change, ...] = ()
    settings: tuple[Change, ...] = ()
    runs: tuple[Run, ...] = ()

    def summary(self) -> str:
        """`1 pipeline changed, 1 param changed; 3 of 5 stages re-run`."""
        gate_changes = [c for item in self.gates for c in item.changes]
        looser = sum(c.note == "looser" for c in gate_changes)
        parts = [
            *_count_items(self.pipelines, "pipeline"),
            *_count_items(self.stages, "stage"),
            *_count(len(self.params), "param", "changed"),
            *_count(sum(len(i.changes) for i in self.options), "step option", "changed"),
            *_count(looser, "gate bound", "loosened"),
            *_count(
                len(gate_changes) - looser, "other gate change" if looser else "gate change", ""
            ),
            *_count_items(self.environments, "environment"),
            *_count(len(self.deployments), "deployment", "changed"),
            *_count(len(self.settings), "setting", "changed"),
        ]
        rerun = sum(r.status == "rerun" for r in self.runs)
        maybe = sum(r.status == "maybe" for r in self.runs)
        runs = f"{rerun} of {len(self.runs)} {_plural('stage', len(self.runs))} re-run"
        runs += f", {maybe} may re-run" if maybe else ""
        return ", ".join(parts or ["no configuration changes"]) + f"; {runs}"

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict with stable keys."""
        return {
            "base": {"ref": self.base, "commit": self.commit},
            "note": self.note,
            "summary": self.summary(),
            **{name: [x.to_dict() for x in getattr(self, name)] for name in SECTIONS},
            "runs": [
                {"stage": r.stage, "status": r.status, "reasons": [x.to_dict() for x in r.reasons]}
                for r in self.runs
            ],
        }


def _plural(noun: str, n: int) -> str:
    return noun if n == 1 else f"{noun}s"


def _count(n: int, noun: str, verb: str) -> list[str]:
    return [f"{n} {_plural(noun, n)} {verb}".rstrip()] if n else []


def _count_items(items: Iterable[Item], noun: str) -> list[str]:
    statuses = [i.status for i in items]
    return [p for s in ("added", "changed", "removed") for p in _count(statuses.count(s), noun, s)]


def show(value: Any) -> str:
    """A value as a short YAML-like flow string: `5`, `[accuracy, f1_macro]`, `(none)`."""
    if value is ABSENT:
        return "(none)"
    if isinstance(value, bool) or value is None:
        return {True: "true", False: "false", None: "null"}[value]
    if isinstance(value, Mapping):
        return "{" + ", ".join(f"{k}: {show(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(show(v) for v in value) + "]"
    return str(value) if value != "" else '""'


# ------------------------------------------------------------------ the base


def resolve_base(root: Path, base: str | None, main_branch: str) -> tuple[str, str]:
    """The base ref's name and the commit to compare with: where the branch left it.

    Without `base`, `origin/<main_branch>` if it exists, else `<main_branch>`.
    """
    if git.toplevel(root) is None:
        raise UsageError(
            f"{root} is not in a git repository; plan compares the project with a git ref",
            "run it in a clone of the project's repository",
        )
    if base is not None and base.startswith("-"):
        raise UsageError(f"--base {base}: not a ref", "pass a branch, tag or commit id")
    for ref in [base] if base is not None else [f"origin/{main_branch}", main_branch]:
        commit = git.rev_parse(root, ref)
        if commit is not None:
            # Like a pull request's diff: what the branch changed since it forked.
            return ref, git.merge_base(root, commit, "HEAD") or commit
    if base is not None:
        raise UsageError(f"--base {base}: no such commit", "pass a branch, tag or commit id")
    raise UsageError(
        f"neither origin/{main_branch} nor {main_branch} exists (ci.main_branch in mlops.yaml)",
        "pass the ref to compare with: mlops plan --base REF (e.g. --base HEAD~1)",
    )


def load_base(root: Path, commit: str) -> tuple[Workspace | None, str | None]:
    """The project as it was at `commit`, or None and a one-line note saying why not."""
    prefix = git.prefix(root)
    files = {PROJECT_FILE: git.show(root, commit, prefix + PROJECT_FILE)}
    if files[PROJECT_FILE] is None:
        return None, f"no {PROJECT_FILE} at the base: everything is new"
    for rel in git.files_at(root, commit, [PIPELINES_DIR]):
        if rel.count("/") == 1 and rel.endswith((".yaml", ".yml")):
            files[rel] = git.show(root, commit, prefix + rel)
    files[DEPLOYMENTS_FILE] = git.show(root, commit, prefix + DEPLOYMENTS_FILE)
    with tempfile.TemporaryDirectory(prefix="mlops-plan-") as tmp:
        for rel, text in files.items():
            if text is not None:
                (Path(tmp) / rel).parent.mkdir(parents=True, exist_ok=True)
                (Path(tmp) / rel).write_text(text, encoding="utf-8")
        try:
            return load_workspace(Path(tmp)), None
        except ConfigError as exc:
            return None, _invalid(exc)


def _invalid(exc: ConfigError) -> str:
    first = exc.problems[0]
    where = ":".join(str(x) for x in (first.file, first.line, first.col) if x)
    more = len(exc.problems) - 1
    return (
        f"the base is invalid ({where + ': ' if where else ''}{first.message.splitlines()[0]}"
        + (f", and {more} more {_plural('problem', more)}" if more else "")
        + "): compared with an empty project"
    )


# ----------------------------------------------------------------- one side


@dataclass(frozen=True)
class _Stage:
    file: str  # the dvc.yaml that holds it
    name: str  # its name in that file
    body: Mapping[str, Any]


@dataclass(frozen=True)
class _Side:
    ws: Workspace | None
    files: Mapping[str, Any]  # generated YAML file -> its data
    stages: Mapping[str, _Stage]  # `iris:train` / `iris` -> stage, in display order


def _side(ws: Workspace | None) -> _Side:
    if ws is None:
        return _Side(None, {}, {})
    files = {
        path: yaml.load(text, Loader=_Loader)
        for path, text in compile_project(ws)
        if path.endswith(".yaml")
    }
    stages: dict[str, _Stage] = {}
    for path, data in files.items():
        if path == ROOT_DVC or path.endswith(f"/{ROOT_DVC}"):
            for name, body in (data.get("stages") or {}).items():
                sid = name if path == ROOT_DVC else f"{path.split('/')[-2]}:{name}"
                stages[sid] = _Stage(path, name, body)
    # Each pipeline's stages in file order, then its root stage.
    ordered = sorted(stages.items(), key=lambda kv: (kv[0].split(":")[0], ":" not in kv[0]))
    return _Side(ws, files, dict(ordered))


def build_plan(ws: Workspace, base: str, commit: str) -> Plan:
    """Compare the work tree's project `ws` with the project at `commit` (named `base`)."""
    base_ws, note = load_base(ws.root, commit)
    old, new = _side(base_ws), _side(ws)
    common = [n for n in ws.pipelines if base_ws is not None and n in base_ws.pipelines]
    return Plan(
        base=base,
        commit=commit,
        note=note,
        pipelines=tuple(_items(_pipeline_dumps(base_ws), _pipeline_dumps(ws), values=False)),
        stages=tuple(_items(_stage_bodies(old), _stage_bodies(new), values=False)),
        params=tuple(_params(old, new, common)),
        options=tuple(_options(old, new, common)),
        gates=tuple(_gates(base_ws, ws, common)),
        environments=tuple(_items(_environments(base_ws), _environments(ws), values=True)),
        deployments=tuple(_diff_flat(_deployments(base_ws), _deployments(ws))),
        settings=tuple(_settings(base_ws, ws)),
        runs=tuple(_runs(old, new, ws.root, commit)),
    )


# --------------------------------------------------------------- comparing


def _flatten(value: Any, prefix: str = "") -> dict[str, Any]:
    """Dotted keys to leaves (lists are leaves); an absent value has none."""
    if value is ABSENT:
        return {}
    if isinstance(value, Mapping):
        out: dict[str, Any] = {}
        for key, item in value.items():
            out.update(_flatten(item, f"{prefix}.{key}" if prefix else str(key)))
        return out
    return {prefix: value}


def _diff_flat(before: Mapping[str, Any], after: Mapping[str, Any]) -> list[Change]:
    keys = sorted(before.keys() | after.keys())
    pairs = [(k, before.get(k, ABSENT), after.get(k, ABSENT)) for k in keys]
    # Plain equality, as DVC compares params (5 == 5.0).
    return [Change(k, old, new) for k, old, new in pairs if old != new]


def _diff(old: Any, new: Any, prefix: str = "") -> list[Change]:
    return _diff_flat(_flatten(old, prefix), _flatten(new, prefix))


def _items(
    before: Mapping[str, Mapping[str, Any]], after: Mapping[str, Mapping[str, Any]], *, values: bool
) -> list[Item]:
    """Added, changed and removed entries, in the work tree's order, then removed ones."""
    out: list[Item] = []
    for name in [*after, *(n for n in before if n not in after)]:
        if name not in before or name not in after:
            out.append(Item(name, "added" if name not in before else "removed"))
        elif before[name] != after[name]:
            keys = [*after[name], *(k for k in before[name] if k not in after[name])]
            fields = tuple(k for k in keys if before[name].get(k) != after[name].get(k))
            changes = tuple(_diff(before[name], after[name])) if values else ()
            out.append(Item(name, "changed", () if values else fields, changes))
    return out


def _pipeline_dumps(ws: Workspace | None) -> dict[str, dict[str, Any]]:
    if ws is None:
        return {}
    return {n: p.model.model_dump(mode="json", by_alias=True) for n, p in ws.pipelines.items()}


def _stage_bodies(side: _Side) -> dict[str, dict[str, Any]]:
    # `meta` points at source lines, which move with every edit above them.
    return {sid: {k: v for k, v in s.body.items() if k != "meta"} for sid, s in side.stages.items()}


def _params(old: _Side, new: _Side, common: list[str]) -> list[Change]:
    before, after = old.files.get(PARAMS) or {}, new.files.get(PARAMS) or {}
    return [c for n in common for c in _diff(before.get(n, {}), after.get(n, {}), n)]


def _options(old: _Side, new: _Side, common: list[str]) -> list[Item]:
    out: list[Item] = []
    for name in common:
        path = f"{pipeline_dir(name)}/steps.yaml"
        before, after = old.files.get(path) or {}, new.files.get(path) or {}
        for stage in (s for s in after if s in before):
            changes = tuple(_diff(before[stage], after[stage]))
            if changes:
                out.append(Item(f"{name}:{stage}", "changed", changes=changes))
    return out


def _gate_values(gates: Gates | None) -> dict[str, Any]:
    if gates is None:
        return {}
    out: dict[str, Any] = {"baseline": gates.baseline, "no_baseline": gates.no_baseline}
    seen: dict[str, int] = {}
    for rule in gates.rules:
        seen[rule.metric] = seen.get(rule.metric, 0) + 1
        label = rule.metric if seen[rule.metric] == 1 else f"{rule.metric}#{seen[rule.metric]}"
        for bound, value in rule.model_dump(exclude={"metric"}).items():
            out[f"{label} {bound}"] = value
    return {k: v for k, v in out.items() if v is not None}


def _judge(change: Change) -> Change:
    """Mark a gate change that lets more models through as looser."""
    bound = change.key.rsplit(" ", 1)[-1]
    old, new = change.old, change.new
    looser: bool | None = None
    if bound in _LOWER_IS_LOOSER + _HIGHER_IS_LOOSER:
        if old is ABSENT or new is ABSENT:
            looser = new is ABSENT
        else:
            looser = new < old if bound in _LOWER_IS_LOOSER else new > old
    elif bound == "no_baseline" and ABSENT not in (old, new):
        looser = _NO_BASELINE.index(new) > _NO_BASELINE.index(old)
    if looser is None:
        return change
    return replace(change, note="looser" if looser else "tighter")


def _gates(old: Workspace | None, new: Workspace, common: list[str]) -> list[Item]:
    out: list[Item] = []
    for name in common:
        assert old is not None  # `common` is empty without a base
        before = _gate_values(old.pipelines[name].model.gates)
        after = _gate_values(new.pipelines[name].model.gates)
        changes = tuple(_judge(c) for c in _diff_flat(before, after))
        if changes:
            out.append(Item(name, "changed", changes=changes))
    return out


def _environments(ws: Workspace | None) -> dict[str, dict[str, Any]]:
    if ws is None:
        return {}
    envs = ws.project.environments.items()
    return {n: e.model_dump(mode="json", exclude_none=True) for n, e in envs}


def _deployments(ws: Workspace | None) -> dict[str, str]:
    if ws is None:
        return {}
    return {f"{env}/{m}": v for env, models in ws.deployments.items() for m, v in models.items()}


def _settings(old: Workspace | None, new: Workspace) -> list[Change]:
    """mlops.yaml outside `environments:`, and the promotion order."""
    if old is None:
        return []
    before, after = (
        ws.project.model_dump(mode="json", exclude={"environments"}) for ws in (old, new)
    )
    changes = _diff(before, after)
    order = [e for e in old.project.environments if e in new.project.environments]
    new_order = [e for e in new.project.environments if e in old.project.environments]
    if order != new_order:
        changes.append(Change("promotion order", order, new_order))
    return changes


# ------------------------------------------------------------------- re-runs


def _inside(inner: str, outer: str) -> bool:
    return outer in ("", ".") or inner == outer or inner.startswith(outer.rstrip("/") + "/")


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
            out.add((PARAMS, entry))
        else:
            out.update((f, k) for f, keys in entry.items() for k in (keys or [""]))
    return out


def _lookup(data: Any, key: str) -> Any:
    for part in key.split(".") if key else []:
        if not isinstance(data, Mapping) or part not in data:
            return ABSENT
        data = data[part]
    return ABSENT if data is None and not key else data


def _param_reasons(old: _Side, new: _Side, before: _Stage, after: _Stage) -> list[Reason]:
    tb, ta = _tracked(before.body), _tracked(after.body)
    reasons: list[Reason] = []
    if tb != ta:
        name = {(f, k): k if f == PARAMS else f"{f}:{k}" for f, k in tb | ta}
        reasons.append(Reason("params", _delta({name[p] for p in tb}, {name[p] for p in ta})))
    for file, key in sorted(tb & ta):
        for c in _diff(_lookup(old.files.get(file), key), _lookup(new.files.get(file), key), key):
            if file == PARAMS:
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


class _Sources:
    """Whether files no stage writes (scripts, raw data) differ from the base commit.

    Git answers for what it tracks, `x.dvc` files included; for other files the
    md5 the base's dvc.lock recorded is compared with the file; else it cannot tell.
    """

    def __init__(self, root: Path, commit: str, paths: list[str]) -> None:
        self.root, self.commit = root, commit
        wanted = sorted({*paths, *(f"{p}.dvc" for p in paths)})
        self.changed = {
            *git.changed_files(root, commit, wanted),
            *git.tracked_files(root, wanted, untracked=True),
        }
        known = {*git.files_at(root, commit, wanted), *git.tracked_files(root, wanted)}
        self.known = known | self.changed
        self.locks: dict[str, Any] = {}

    def reason(self, stage: _Stage, path: str) -> Reason | None:
        """Why `path` makes `stage` re-run, or None when it did not change."""
        files = [f for f in self.known if _inside(f, path) or f == f"{path}.dvc"]
        if files:
            return Reason("dep", path) if any(f in self.changed for f in files) else None
        entry = self._locked(stage, path)
        target = self.root / path
        if not entry or entry.get("hash") != "md5" or not target.is_file():
            why = "a folder outside git" if target.is_dir() else "not in git, no dvc.lock hash"
            return Reason("dep", path, certain=False, detail=why)
        same = hashlib.md5(target.read_bytes()).hexdigest() == entry.get("md5")
        return None if same else Reason("dep", path, detail="differs from the base's dvc.lock")

    def _locked(self, stage: _Stage, path: str) -> Mapping[str, Any] | None:
        lock_file = stage.file[: -len(ROOT_DVC)] + "dvc.lock"
        if lock_file not in self.locks:
            text = git.show(self.root, self.commit, git.prefix(self.root) + lock_file)
            self.locks[lock_file] = yaml.load(text, Loader=_Loader) if text else None
        lock = self.locks[lock_file]
        if not isinstance(lock, Mapping):
            return None
        deps = ((lock.get("stages") or {}).get(stage.name) or {}).get("deps") or []
        return next((d for d in deps if isinstance(d, Mapping) and d.get("path") == path), None)


def _writers(dep: str, writer: Mapping[str, str], outs: list[str]) -> set[str]:
    """The stages that write `dep`, a folder holding it, or something inside it."""
    if dep in ("", "."):
        return set(writer.values())
    parts = dep.split("/")
    found = {
        writer[p] for p in ("/".join(parts[:n]) for n in range(1, len(parts) + 1)) if p in writer
    }
    index = bisect.bisect_left(outs, f"{dep}/")
    while index < len(outs) and outs[index].startswith(f"{dep}/"):
        found.add(writer[outs[index]])
        index += 1
    return found


def _upstream(stages: Mapping[str, _Stage]) -> tuple[dict[str, list[str]], dict[str, list[str]]]:
    """For each stage: the stages whose outputs it reads, and the deps no stage writes."""
    writer = {out: sid for sid, st in stages.items() for out in _out_paths(st.body)}
    outs = sorted(writer)
    upstream: dict[str, list[str]] = {}
    sources: dict[str, list[str]] = {}
    for sid, stage in stages.items():
        hits = {dep: _writers(dep, writer, outs) for dep in stage.body.get("deps") or []}
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
    old: _Side, new: _Side, sid: str, sources: list[str], files: _Sources | None
) -> list[Reason]:
    before, after = old.stages.get(sid), new.stages[sid]
    if before is None:
        return [Reason("new")]
    reasons = _definition_reasons(before.body, after.body)
    reasons += _param_reasons(old, new, before, after)
    if files is not None:
        reasons += [r for d in sources if (r := files.reason(after, d)) is not None]
    return reasons


def _runs(old: _Side, new: _Side, root: Path, commit: str) -> list[Run]:
    """Predict, stage by stage, what `dvc repro` will re-run and why."""
    upstream, sources = _upstream(new.stages)
    checked = sorted({d for sid, ds in sources.items() if sid in old.stages for d in ds})
    files = _Sources(root, commit, checked) if checked else None
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
