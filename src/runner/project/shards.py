"""Splitting a sweep over CI jobs, and where each job runs.

The assignment is round-robin over the grid in declaration order: variant k
(counting from 0, in the order `project.sweep.variants` lists them) belongs to
shard `k mod N + 1` of N. It depends only on the sweep: and the shard count, so
every job computes the same split without talking to the others, and the shards
differ in size by at most one variant. Stages outside the sweep (ingest, split)
are shared: every shard reproduces them (or restores them from the run-cache).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from runner.config.load import PipelineFile, Workspace
from runner.config.scale import DEFAULT_TIMEOUT_MINUTES, MAX_MATRIX, labels
from runner.errors import UsageError
from runner.layout import pipeline_dvc_yaml
from runner.project.sweep import Variant, stages_of, variants

_SHARD = re.compile(r"^(?P<i>[0-9]{1,3})/(?P<n>[0-9]{1,3})$")


@dataclass(frozen=True)
class Shard:
    """Job `index` of `count` (both from 1)."""

    index: int
    count: int

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"


def parse_shard(text: str) -> Shard:
    """`2/3` -> Shard(2, 3); a usage error for anything else."""
    match = _SHARD.match(text)
    index, count = (int(match["i"]), int(match["n"])) if match else (0, 0)
    if not match or not 1 <= index <= count or count > MAX_MATRIX:
        raise UsageError(
            f"--shard {text}: not a shard; give I/N with 1 <= I <= N <= {MAX_MATRIX}",
            "e.g. --shard 1/3 runs the first of three shards",
        )
    return Shard(index, count)


def assigned(grid: list[Variant], shard: Shard) -> list[Variant]:
    """The variants of `grid` that `shard` runs."""
    return [v for k, v in enumerate(grid) if k % shard.count == shard.index - 1]


def shard_count(ws: Workspace, pfile: PipelineFile) -> int:
    """How many jobs share the pipeline's sweep: 1 without a sweep, at most one per variant."""
    if not pfile.model.sweep:
        return 1
    wanted = pfile.model.ci.shards if pfile.model.ci and pfile.model.ci.shards else None
    count = len(variants(pfile.model.sweep))
    return min(wanted or ws.project.ci.shards, count)


def shard_size(pfile: PipelineFile, shard: Shard) -> tuple[int, int]:
    """How many of the pipeline's variants `shard` runs, and how many there are."""
    grid = variants(pfile.model.sweep)
    return len(assigned(grid, shard)), len(grid)


def shard_stages(pfile: PipelineFile, shard: Shard) -> list[str]:
    """The DVC targets a shard reproduces: every copy of a swept stage for its variants."""
    mine = {v.name for v in assigned(variants(pfile.model.sweep), shard)}
    dvc_yaml = pipeline_dvc_yaml(pfile.name)
    return [
        f"{dvc_yaml}:{name}"
        for name, item in stages_of(pfile).items()
        if item.variant is not None and item.variant.name in mine
    ]


@dataclass(frozen=True)
class Placement:
    """Where a job runs: the labels a runner must carry, and the job's timeout."""

    runs_on: tuple[str, ...]
    timeout_minutes: int


def placement(ws: Workspace, pfile: PipelineFile, *, sweep: bool) -> Placement:
    """Where the pipeline's job runs; with `sweep`, where its shard jobs run.

    The first of: the pipeline's `ci.sweep` (for shards), the pipeline's `ci`,
    mlops.yaml's `ci.runs_on` (and GitHub's default timeout).
    """
    own = pfile.model.ci
    layers = [own.sweep if own and sweep else None, own]
    runs_on = next((x.runs_on for x in layers if x and x.runs_on), ws.project.ci.runs_on)
    timeout = next((x.timeout_minutes for x in layers if x and x.timeout_minutes), None)
    return Placement(tuple(labels(runs_on)), timeout or DEFAULT_TIMEOUT_MINUTES)
