"""The version record: what a version tag's message says about the version.

`mlops register` writes it and everything else reads it through `parse`, so
its shape is stated once. The message is GTO's summary line, a blank line, then
the record as JSON with sorted keys (`serialise`). Records written before the
`schema` field existed parse as schema 1.
"""

from __future__ import annotations

import json
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from runner.errors import UsageError

SCHEMA = 1


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class GateCheck(_Frozen):
    metric: str
    rule: str
    result: str


class GateSummary(_Frozen):
    passed: bool
    baseline: str
    checks: list[GateCheck]


class ArtifactInfo(_Frozen):
    path: str
    # sha256 over `files` (see registry.artifact.digest)
    digest: str
    # relative path -> sha256
    files: dict[str, str]


class CiRun(_Frozen):
    workflow: str | None
    run_id: str | None
    run_url: str | None
    ref: str | None


class VersionRecord(_Frozen):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    schema_version: int = Field(default=SCHEMA, alias="schema")
    model: str
    version: str
    commit: str
    pipeline: str
    # stage -> "deps"/"outs" -> path -> hash, from dvc.lock
    stages: dict[str, dict[str, dict[str, str | None]]]
    params: dict[str, Any]
    metrics: dict[str, Any]
    gate: GateSummary
    artifact: ArtifactInfo
    created_at: str
    created_by: str
    # Only when registered in GitHub Actions.
    ci: CiRun | None = None


def serialise(record: VersionRecord) -> str:
    """The tag message for `record`."""
    data = record.model_dump(
        mode="json", by_alias=True, exclude={"ci"} if record.ci is None else None
    )
    summary = f"Registering artifact {record.model} version {record.version}"
    return f"{summary}\n\n{json.dumps(data, indent=2, sort_keys=True)}\n"


def parse(tag: str, message: str) -> VersionRecord:
    """The record in `tag`'s message; a UsageError naming the tag when it holds none."""
    hint = "it was not written by `mlops register`; delete the tag or register the commit again"
    try:
        message.encode("utf-8")
    except UnicodeEncodeError:
        raise UsageError(f"tag {tag}: its message is not UTF-8 text", hint) from None
    _, _, body = message.partition("\n\n")
    try:
        data = json.loads(body)
    except ValueError as exc:
        raise UsageError(
            f"tag {tag}: its message holds no JSON version record ({exc})", hint
        ) from None
    if not isinstance(data, dict):
        raise UsageError(f"tag {tag}: its message holds no JSON version record", hint)
    if isinstance(data.get("schema"), int) and data["schema"] > SCHEMA:
        raise UsageError(
            f"tag {tag}: its record has schema {data['schema']}, newer than this mlops-runner "
            f"reads ({SCHEMA})",
            "upgrade mlops-runner",
        )
    try:
        return VersionRecord.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "record"
        more = f" (and {exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
        raise UsageError(
            f"tag {tag}: invalid version record: {where}: {first['msg']}{more}", hint
        ) from None
