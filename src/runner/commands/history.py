"""`mlops history [MODEL]`: registrations, desired-state changes and deployments, in order."""

from __future__ import annotations

import json
import sys

from runner.config.load import Workspace
from runner.deploy import history


def run(*, ws: Workspace, format: str, model: str | None) -> int:
    events, warnings = history.timeline(ws, model)
    if format == "json":
        sys.stdout.write(
            json.dumps({"events": [e.to_json() for e in events], "warnings": warnings}, indent=2)
            + "\n"
        )
        return 0
    for event in events:
        where = f" {event.env}" if event.env else ""
        sys.stdout.write(
            f"{event.time}  {event.kind:<10} {event.model}{where} {event.version}  {event.detail}\n"
        )
    for warning in warnings:
        sys.stderr.write(f"warning: {warning}\n")
    if not events:
        sys.stdout.write("no history yet: nothing registered or deployed\n")
    return 0
