"""`mlops history [MODEL]`: registrations, desired-state changes and deployments, in order."""

from __future__ import annotations

import sys

from runner.commands.output import write_json
from runner.config.load import Workspace
from runner.deploy import history


def run(*, ws: Workspace, format: str, model: str | None) -> int:
    events, warnings = history.timeline(ws, model)
    if format == "json":
        write_json({"events": [e.to_json() for e in events], "warnings": warnings})
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
