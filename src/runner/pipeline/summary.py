"""The last run's summary (`.mlops/last-run.json`): one record, one parse, one serialise.

`mlops run` writes it (and prints it with `--format json`); `mlops gate` reads
it to say which stages ran, came from the run-cache or were up to date.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from runner.fsutil import write_atomic
from runner.layout import LAST_RUN

SCHEMA: Literal[1] = 1
# A metric value as the metrics file has it (`true` stays a bool, 5 stays an int).
Number = bool | int | float


class RunSummary(BaseModel):
    """What one `mlops run` did: stage names as `pipeline:stage` (a root stage as `pipeline`)."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    schema_: Literal[1] = Field(default=SCHEMA, alias="schema")
    ran: tuple[str, ...] = ()
    restored: tuple[str, ...] = ()
    unchanged: tuple[str, ...] = ()
    failed: tuple[str, ...] = ()
    seconds: float = 0.0
    # Headline metrics per pipeline (or per `pipeline:stage` when a pipeline has several).
    metrics: dict[str, dict[str, Number]] = Field(default_factory=dict)

    def dumps(self) -> str:
        """The JSON document, keys sorted, with a trailing newline."""
        # Python mode, then json: a NaN metric stays NaN, as the metrics file has it.
        return json.dumps(self.model_dump(by_alias=True), indent=2, sort_keys=True) + "\n"

    @classmethod
    def loads(cls, text: str) -> RunSummary:
        """Parse the JSON document; ValueError when it is not a summary this version knows."""
        return cls.model_validate_json(text)

    def stages_of(self, pipeline: str) -> dict[str, list[str]]:
        """The stage names of `pipeline` in each list (ran, restored, unchanged, failed)."""
        lists = {
            "ran": self.ran,
            "restored": self.restored,
            "unchanged": self.unchanged,
            "failed": self.failed,
        }
        return {
            key: [n for n in names if n == pipeline or n.startswith(f"{pipeline}:")]
            for key, names in lists.items()
        }


def write(root: Path, summary: RunSummary) -> None:
    write_atomic(root / LAST_RUN, summary.dumps())


def read(root: Path) -> RunSummary | None:
    """The last run's summary, or None when there is none this version can read."""
    try:
        return RunSummary.loads((root / LAST_RUN).read_text("utf-8"))
    except (OSError, ValueError, ValidationError):
        return None
