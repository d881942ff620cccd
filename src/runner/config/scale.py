"""Where a pipeline's CI jobs run and how its sweep is split: the `ci:` key of a pipeline file.

```yaml
ci:
  runs_on: ubuntu-latest              # the pipeline's own job (and the job that collects a sweep)
  timeout_minutes: 30
  shards: 3                           # split the sweep's variants over 3 matrix jobs
  sweep:                              # where those shard jobs run
    runs_on: [self-hosted, gpu]
    timeout_minutes: 120
```

`mlops.yaml`'s `ci.shards` is the default for every pipeline with a sweep; a
pipeline without a sweep always runs as one job. Each value is the one GitHub
accepts: labels as `runs-on:` takes them, a job timeout up to the five days a
self-hosted runner allows, and at most 256 jobs in one matrix.
"""

from __future__ import annotations

from typing import Annotated, Union

from pydantic import BaseModel, ConfigDict, Discriminator, Field, Tag, field_validator

# GitHub's limit on the jobs of one matrix.
MAX_MATRIX = 256
# The longest a job may run on a self-hosted runner (five days); hosted runners stop at 360.
MAX_TIMEOUT_MINUTES = 7200
# What GitHub uses when a job does not say.
DEFAULT_TIMEOUT_MINUTES = 360

Label = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$", max_length=100)]
Labels = Annotated[list[Label], Field(min_length=1, max_length=32)]
RunsOn = Annotated[
    Union[Annotated[Label, Tag("label")], Annotated[Labels, Tag("labels")]],  # noqa: UP007
    Discriminator(lambda v: "labels" if isinstance(v, list) else "label"),
]
Shards = Annotated[int, Field(ge=1, le=MAX_MATRIX)]
TimeoutMinutes = Annotated[int, Field(ge=1, le=MAX_TIMEOUT_MINUTES)]


def labels(runs_on: str | list[str]) -> list[str]:
    """`runs_on` as the list of labels a runner must carry."""
    return [runs_on] if isinstance(runs_on, str) else list(runs_on)


class JobPlacement(BaseModel):
    """Which runners take a job (`runs_on`) and how long it may run."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True, defer_build=True)

    runs_on: RunsOn | None = None
    timeout_minutes: TimeoutMinutes | None = None

    @field_validator("runs_on")
    @classmethod
    def _unique(cls, value: str | list[str] | None) -> str | list[str] | None:
        if isinstance(value, list):
            twice = sorted({label for label in value if value.count(label) > 1})
            if twice:
                raise ValueError(f"label '{twice[0]}' is listed twice")
        return value


class PipelineCI(JobPlacement):
    """`ci:` of a pipeline file: its jobs' runners and timeout, and its sweep's shards."""

    # How many matrix jobs share the sweep's variants (default: mlops.yaml's ci.shards).
    shards: Shards | None = None
    # Where the shard jobs run, when not where the pipeline's own job runs.
    sweep: JobPlacement | None = None
