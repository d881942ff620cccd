"""Monitoring events: what each `mlops monitor --record` found, one JSON line each.

The file is `.mlops/monitor/history.jsonl` in the project; mlops-monitor.yml keeps
it on its own branch (`mlops-monitor`), so scheduled runs never commit to main.
`mlops history` merges both copies into the timeline beside deploys.
"""

from __future__ import annotations

import json
from pathlib import Path

from pydantic import BaseModel, ConfigDict, ValidationError

from runner import git
from runner.fsutil import write_atomic
from runner.layout import MONITOR_BRANCH, MONITOR_BRANCH_FILE, MONITOR_HISTORY


class DriftEvent(BaseModel):
    """One monitoring check of one model version in one environment."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    time: str  # ISO 8601, UTC
    model: str
    env: str
    version: str
    verdict: str  # ok, drift, degraded, undecided
    detail: str  # the reasons, or how many rows passed

    def to_line(self) -> str:
        return json.dumps(self.model_dump(), sort_keys=True, ensure_ascii=False) + "\n"


def append(root: Path, event: DriftEvent) -> Path:
    """Add `event` to the project's monitoring history (rewritten atomically)."""
    path = root / MONITOR_HISTORY
    old = path.read_text("utf-8") if path.is_file() else ""
    if old and not old.endswith("\n"):
        old += "\n"
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(path, old + event.to_line())
    return path


def events(root: Path) -> tuple[list[DriftEvent], list[str]]:
    """Every recorded event (the local file and the monitor branch), and unreadable lines."""
    texts = []
    path = root / MONITOR_HISTORY
    if path.is_file():
        texts.append((str(path), path.read_text("utf-8", errors="replace")))
    for ref in (f"origin/{MONITOR_BRANCH}", MONITOR_BRANCH):
        if git.rev_parse(root, ref):
            text = git.show(root, ref, MONITOR_BRANCH_FILE)
            if text:
                texts.append((f"{ref}:{MONITOR_BRANCH_FILE}", text))
                break
    seen: set[DriftEvent] = set()
    out: list[DriftEvent] = []
    warnings: list[str] = []
    for where, text in texts:
        for number, line in enumerate(text.splitlines(), 1):
            if not line.strip():
                continue
            try:
                event = DriftEvent.model_validate_json(line)
            except ValidationError as exc:
                first = exc.errors(include_url=False)[0]["msg"]
                warnings.append(f"{where}:{number}: not a monitoring event ({first})")
                continue
            if event not in seen:
                seen.add(event)
                out.append(event)
    return out, warnings
