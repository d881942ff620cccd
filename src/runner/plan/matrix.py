"""The CI jobs a change needs: one per affected pipeline, or one per shard of its sweep.

`mlops plan --format json` adds them as `matrix` (the jobs that reproduce) and
`collect` (one job per sharded pipeline, after its shards), and `--format
outputs` prints both as `{"include": [...]}` for `strategy.matrix: ${{
fromJSON(...) }}`. Each entry says where the job runs (`runs_on`, a list of
labels) and for how long (`timeout_minutes`).

A GitHub matrix holds at most 256 jobs. Validation bounds the shard jobs; when
more unsharded pipelines than that are affected, pipelines that run on the same
runners with the same timeout share a job (`pipelines` lists them all).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from runner.config.load import Workspace
from runner.config.scale import MAX_MATRIX
from runner.errors import CheckFailed
from runner.project.shards import Placement, placement, shard_count


@dataclass(frozen=True)
class Job:
    """One matrix entry: the pipelines it runs, its shard (`i/n`), its runners and timeout."""

    pipelines: tuple[str, ...]
    shard: str | None
    where: Placement

    def to_dict(self) -> dict[str, Any]:
        name = (
            "+".join(self.pipelines)
            if len(self.pipelines) <= 3
            else (f"{self.pipelines[0]}+{len(self.pipelines) - 1}-more")
        )
        return {
            "name": name + (f" {self.shard}" if self.shard else ""),
            "pipelines": list(self.pipelines),
            "shard": self.shard,
            "runs_on": list(self.where.runs_on),
            "timeout_minutes": self.where.timeout_minutes,
        }


def matrix(ws: Workspace, pipelines: list[str]) -> list[Job]:
    """The jobs that reproduce `pipelines`: a sharded sweep gives one job per shard."""
    jobs: list[Job] = []
    for name in pipelines:
        pfile = ws.pipelines[name]
        count = shard_count(ws, pfile)
        if count == 1:
            jobs.append(Job((name,), None, placement(ws, pfile, sweep=False)))
        else:
            where = placement(ws, pfile, sweep=True)
            jobs += [Job((name,), f"{i}/{count}", where) for i in range(1, count + 1)]
    return _fit(jobs)


def collect_jobs(ws: Workspace, pipelines: list[str]) -> list[Job]:
    """One job per sharded pipeline, run after its shards, where the pipeline's job runs."""
    return [
        Job((name,), None, placement(ws, ws.pipelines[name], sweep=False))
        for name in pipelines
        if shard_count(ws, ws.pipelines[name]) > 1
    ]


def _fit(jobs: list[Job]) -> list[Job]:
    """Pack unsharded jobs with the same placement until the matrix fits GitHub's limit."""
    if len(jobs) <= MAX_MATRIX:
        return jobs
    sharded = [j for j in jobs if j.shard is not None]
    groups: dict[Placement, list[str]] = {}
    for job in jobs:
        if job.shard is None:
            groups.setdefault(job.where, []).extend(job.pipelines)
    room = MAX_MATRIX - len(sharded)
    if room < len(groups):
        raise CheckFailed(
            f"the change needs {len(sharded)} shard jobs and {len(groups)} runner placements; "
            f"one GitHub matrix holds at most {MAX_MATRIX} jobs",
            "lower ci.shards, or split the change into smaller pull requests",
        )
    packed: list[Job] = []
    total = sum(len(names) for names in groups.values())
    for where, names in groups.items():
        # One job per placement, and the rest of the room shared in proportion.
        slots = 1 + (room - len(groups)) * len(names) // total
        size = -(-len(names) // slots)
        packed += [Job(tuple(names[i : i + size]), None, where) for i in range(0, len(names), size)]
    return sharded + packed


def include(jobs: list[Job]) -> dict[str, Any]:
    """`{"include": [...]}`, what `strategy.matrix` reads from JSON."""
    return {"include": [job.to_dict() for job in jobs]}
