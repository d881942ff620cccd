"""The audit trail: what was registered, what was asked for, and what was deployed.

Four sources, merged into one timeline: version tags (registration records),
the git log of `deployments.yaml` (each reviewed change of desired state),
each target's audit records (what `mlops deploy` actually did), and the
monitoring events `mlops monitor --record` keeps (`drift_log`).
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import yaml

from runner import git, yamlio
from runner.config.load import Workspace
from runner.deploy import drift_log
from runner.deploy.targets.base import TargetError
from runner.errors import MlopsError
from runner.layout import DEPLOYMENTS_FILE
from runner.registry import versions


@dataclass(frozen=True)
class HistoryEvent:
    time: str
    kind: str  # "registered", "desired", "deployed", "monitored"
    model: str
    env: str
    version: str
    detail: str

    def to_json(self) -> dict[str, Any]:
        return {
            "time": self.time,
            "kind": self.kind,
            "model": self.model,
            "env": self.env or None,
            "version": self.version,
            "detail": self.detail,
        }


def _desired_at(root: Path, commit: str) -> dict[str, dict[str, str]]:
    # "./": relative to the project folder, wherever it sits in the repository.
    text = git.show(root, commit, f"./{DEPLOYMENTS_FILE}") or ""
    try:
        data = yamlio.read(text) or {}
    except yaml.YAMLError:
        return {}
    if not isinstance(data, dict):
        return {}
    return {
        str(env): {str(m): str(v) for m, v in models.items()}
        for env, models in data.items()
        if isinstance(models, dict)
    }


def desired_versions(root: Path, env: str, model: str) -> list[str]:
    """The values env/model had in each committed deployments.yaml, oldest first."""
    out: list[str] = []
    for commit, *_ in git.log_of(root, DEPLOYMENTS_FILE):
        value = _desired_at(root, commit).get(env, {}).get(model)
        if value is not None and (not out or out[-1] != value):
            out.append(value)
    return out


def timeline(ws: Workspace, model: str | None = None) -> tuple[list[HistoryEvent], list[str]]:
    """Every event, oldest first, and warnings for sources that could not be read."""
    models = sorted(
        {p.model.deploy.model for p in ws.pipelines.values() if p.model.deploy}
        if model is None
        else {model}
    )
    events: list[HistoryEvent] = []
    warnings: list[str] = []
    for item in versions.list_versions(ws.root, model):
        if item.model not in models:
            continue
        try:
            registration = item.record
        except MlopsError as exc:
            warnings.append(exc.message)
            continue
        events.append(
            HistoryEvent(
                registration.created_at,
                "registered",
                item.model,
                "",
                item.version,
                f"commit {item.commit[:7]} by {registration.created_by}",
            )
        )
    before: dict[str, dict[str, str]] = {}
    for commit, when, author, subject in git.log_of(ws.root, DEPLOYMENTS_FILE):
        now = _desired_at(ws.root, commit)
        for env in sorted(set(before) | set(now)):
            for name in models:
                old, new = before.get(env, {}).get(name), now.get(env, {}).get(name)
                if old != new and new is not None:
                    events.append(
                        HistoryEvent(
                            when,
                            "desired",
                            name,
                            env,
                            new,
                            f"{old or '(none)'} -> {new} in {commit[:7]} by {author}: {subject}",
                        )
                    )
        before = now
    from runner.deploy.promotion import target_for

    for env in ws.project.environments:
        try:
            target = target_for(ws, env)
            for name in models:
                for record in target.audit(name):
                    events.append(
                        HistoryEvent(
                            record.time,
                            "deployed",
                            name,
                            env,
                            record.version,
                            f"{record.previous or '(none)'} -> {record.version} by {record.actor}"
                            + (f" ({record.note})" if record.note else ""),
                        )
                    )
        except TargetError as exc:
            warnings.append(f"{env}: audit records unavailable: {exc.message}")
    checks, unreadable = drift_log.events(ws.root)
    warnings += unreadable
    events += [
        HistoryEvent(e.time, "monitored", e.model, e.env, e.version, f"{e.verdict}: {e.detail}")
        for e in checks
        if e.model in models
    ]
    events = [replace(e, time=_utc(e.time)) for e in events]
    events.sort(key=lambda e: (e.time, e.kind))
    return events, warnings


def _utc(text: str) -> str:
    """ISO times in UTC, so that times from git, tags and targets sort together."""
    try:
        moment = datetime.datetime.fromisoformat(text)
    except ValueError:
        return text
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=datetime.timezone.utc)
    return moment.astimezone(datetime.timezone.utc).isoformat(timespec="seconds")
