"""The plan's frozen result: what changed, and which stages re-run and why.

Plain values, built by `build_plan` and rendered by `commands/plan.py`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

Status = Literal["added", "removed", "changed"]
RunStatus = Literal["rerun", "maybe", "unchanged"]

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
        runs = f"{rerun} of {len(self.runs)} {plural('stage', len(self.runs))} re-run"
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


def plural(noun: str, n: int) -> str:
    """`noun`, with an `s` unless `n` is 1."""
    return noun if n == 1 else f"{noun}s"


def _count(n: int, noun: str, verb: str) -> list[str]:
    return [f"{n} {plural(noun, n)} {verb}".rstrip()] if n else []


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
