"""The explicit registry of deployment target kinds.

The dict below feeds validation (the `target:` union in `mlops.yaml` is built
from it) and, later, deployment. Adding a kind means adding its config model
here; nothing is discovered implicitly.
"""

from __future__ import annotations

from typing import Literal, TypeAlias

from pydantic import BaseModel, ConfigDict, Field


class _Target(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True, defer_build=True)


class DirectoryTargetConfig(_Target):
    """A folder on this machine or a mounted share; `path` is relative to the project root."""

    kind: Literal["directory"]
    # No control characters: a NUL or newline cannot name a folder the OS or a log can show.
    path: str = Field(min_length=1, pattern=r"^[^\x00-\x1f\x7f]+$")


class S3TargetConfig(_Target):
    """An S3 bucket and prefix; `endpoint_url` for S3-compatible servers (MinIO, moto)."""

    kind: Literal["s3"]
    url: str = Field(pattern=r"^s3://[a-z0-9][a-z0-9.-]{1,61}[a-z0-9](/[^\s]*)?$")
    endpoint_url: str | None = Field(default=None, pattern=r"^https?://\S+$")
    region: str | None = Field(default=None, pattern=r"^[a-z0-9-]+$")
    # Seconds to wait for a reply before a request is tried again (3 tries in all).
    timeout: float = Field(default=10.0, gt=0, le=300)


TARGET_KINDS: dict[str, type[_Target]] = {
    "directory": DirectoryTargetConfig,
    "s3": S3TargetConfig,
}

# The config of any registered kind, for code that opens a target from it.
TargetConfig: TypeAlias = DirectoryTargetConfig | S3TargetConfig
