"""What one server runs with: parsed once by `mlops serve`, handed to each worker as JSON."""

from __future__ import annotations

import os
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from runner.config.targets import DirectoryTargetConfig, S3TargetConfig

ENV_VAR = "MLOPS_SERVE_SETTINGS"  # how uvicorn's worker processes receive the settings
TOKEN_VAR = "MLOPS_SERVE_TOKEN"  # the bearer token, if any (never on the command line)


class ServeSettings(BaseModel):
    """Where the model comes from, the limits, and the prediction log."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    model: str  # the model name clients use in /v2/models/{name}
    # Either a target and the project root its relative path is below, or a model folder.
    target: Annotated[DirectoryTargetConfig | S3TargetConfig, Field(discriminator="kind")] | None
    root: str = "."
    model_dir: str | None = None
    poll_seconds: float = 5.0
    max_batch: int = 10000
    max_body_bytes: int = 16 << 20
    predictions: str | None = None  # folder of the prediction log; None: no log
    sample: float = 1.0
    queue: int = 10000
    roll_bytes: int = 64 << 20
    roll_seconds: float = 3600.0

    def to_json(self) -> str:
        return self.model_dump_json()

    @classmethod
    def parse(cls, text: str) -> ServeSettings:
        return cls.model_validate_json(text)

    @classmethod
    def from_environ(cls) -> ServeSettings:
        return cls.parse(os.environ[ENV_VAR])
