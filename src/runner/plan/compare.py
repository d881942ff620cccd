"""Comparing the configuration of the two sides, section by section."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from runner.config.bounds import BOUNDS, is_looser, policy_is_looser
from runner.config.dotted import flatten
from runner.config.load import Workspace
from runner.config.models import Gates
from runner.layout import PARAMS_FILE, steps_file
from runner.plan.model import ABSENT, Change, Item
from runner.plan.side import Side


def _flatten(value: Any, prefix: str = "") -> dict[str, Any]:
    """Dotted keys to leaves (lists are leaves); an absent value has none."""
    return {} if value is ABSENT else flatten(value, prefix)


def diff_flat(before: Mapping[str, Any], after: Mapping[str, Any]) -> list[Change]:
    """The keys whose values differ, sorted; a key one side lacks is ABSENT there."""
    keys = sorted(before.keys() | after.keys())
    pairs = [(k, before.get(k, ABSENT), after.get(k, ABSENT)) for k in keys]
    # Plain equality, as DVC compares params (5 == 5.0).
    return [Change(k, old, new) for k, old, new in pairs if old != new]


def diff(old: Any, new: Any, prefix: str = "") -> list[Change]:
    """The leaves that differ between two nested values, as dotted keys under `prefix`."""
    return diff_flat(_flatten(old, prefix), _flatten(new, prefix))


def changed_items(
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
            changes = tuple(diff(before[name], after[name])) if values else ()
            out.append(Item(name, "changed", () if values else fields, changes))
    return out


def pipeline_dumps(ws: Workspace | None) -> dict[str, dict[str, Any]]:
    """Each pipeline's config, as its YAML spells it."""
    if ws is None:
        return {}
    return {n: p.model.model_dump(mode="json", by_alias=True) for n, p in ws.pipelines.items()}


def stage_bodies(side: Side) -> dict[str, dict[str, Any]]:
    """Each DVC stage's definition, without `meta`."""
    # `meta` points at source lines, which move with every edit above them.
    return {sid: {k: v for k, v in s.body.items() if k != "meta"} for sid, s in side.stages.items()}


def param_changes(old: Side, new: Side, common: list[str]) -> list[Change]:
    """The `params.yaml` values that differ, for the pipelines both sides have."""
    before, after = old.files.get(PARAMS_FILE) or {}, new.files.get(PARAMS_FILE) or {}
    return [c for n in common for c in diff(before.get(n, {}), after.get(n, {}), n)]


def option_changes(old: Side, new: Side, common: list[str]) -> list[Item]:
    """The `steps.yaml` options that differ, per stage both sides have."""
    out: list[Item] = []
    for name in common:
        path = steps_file(name)
        before, after = old.files.get(path) or {}, new.files.get(path) or {}
        for stage in (s for s in after if s in before):
            changes = tuple(diff(before[stage], after[stage]))
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
    if bound in BOUNDS and ABSENT in (old, new):
        looser = new is ABSENT
    elif bound in BOUNDS:
        looser = is_looser(bound, old, new)
    elif bound == "no_baseline" and ABSENT not in (old, new):
        looser = policy_is_looser(old, new)
    if looser is None:
        return change
    return replace(change, note="looser" if looser else "tighter")


def gate_changes(old: Workspace | None, new: Workspace, common: list[str]) -> list[Item]:
    """The gate settings and bounds that differ, each bound judged looser or tighter."""
    out: list[Item] = []
    for name in common:
        assert old is not None  # `common` is empty without a base
        before = _gate_values(old.pipelines[name].model.gates)
        after = _gate_values(new.pipelines[name].model.gates)
        changes = tuple(_judge(c) for c in diff_flat(before, after))
        if changes:
            out.append(Item(name, "changed", changes=changes))
    return out


def environment_dumps(ws: Workspace | None) -> dict[str, dict[str, Any]]:
    """Each environment of mlops.yaml, unset fields left out."""
    if ws is None:
        return {}
    envs = ws.project.environments.items()
    return {n: e.model_dump(mode="json", exclude_none=True) for n, e in envs}


def deployment_values(ws: Workspace | None) -> dict[str, str]:
    """What each environment deploys, keyed `environment/model`."""
    if ws is None:
        return {}
    return {f"{env}/{m}": v for env, models in ws.deployments.items() for m, v in models.items()}


def setting_changes(old: Workspace | None, new: Workspace) -> list[Change]:
    """mlops.yaml outside `environments:`, and the promotion order."""
    if old is None:
        return []
    before, after = (
        ws.project.model_dump(mode="json", exclude={"environments"}) for ws in (old, new)
    )
    changes = diff(before, after)
    order = [e for e in old.project.environments if e in new.project.environments]
    new_order = [e for e in new.project.environments if e in old.project.environments]
    if order != new_order:
        changes.append(Change("promotion order", order, new_order))
    return changes
