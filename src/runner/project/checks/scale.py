"""The `ci:` of pipeline files: shards need a sweep to split, and the matrix has a limit."""

from __future__ import annotations

from runner.config.load import Workspace
from runner.config.scale import MAX_MATRIX
from runner.errors import Problem
from runner.project.shards import shard_count
from runner.project.sweep import variants


def check_scale(ws: Workspace) -> list[Problem]:
    """Problems in the pipelines' `ci:` keys, and in the sum of their shard jobs."""
    out: list[Problem] = []
    for pfile in ws.pipelines.values():
        ci, doc = pfile.model.ci, pfile.doc
        if ci is None:
            continue
        if not pfile.model.sweep:
            for key in ("shards", "sweep"):
                if getattr(ci, key) is not None:
                    out.append(
                        doc.problem(
                            ("ci", key),
                            f"ci.{key}: the pipeline has no sweep: to split",
                            f"remove ci.{key}:, or add a sweep:",
                            prefer_key=True,
                        )
                    )
            continue
        count = len(variants(pfile.model.sweep))
        if ci.shards is not None and ci.shards > count:
            out.append(
                doc.problem(
                    ("ci", "shards"),
                    f"ci.shards: {ci.shards} shards for {count} sweep variants; "
                    f"{ci.shards - count} would have nothing to run",
                    f"use shards: {count} or fewer",
                )
            )
    if out:
        return out
    sharded = {n: shard_count(ws, p) for n, p in ws.pipelines.items()}
    sharded = {n: c for n, c in sharded.items() if c > 1}
    total = sum(sharded.values())
    if total > MAX_MATRIX:
        out.append(
            ws.project_doc.problem(
                ("ci", "shards") if "shards" in ws.project.ci.model_fields_set else ("ci",),
                f"ci.shards: the sweeps of {len(sharded)} pipelines make {total} shard jobs; "
                f"one GitHub matrix holds at most {MAX_MATRIX}",
                "lower ci.shards here or in the pipelines' ci: keys",
                prefer_key=True,
            )
        )
    return out
