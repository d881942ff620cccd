"""The path index behind the stage graph and `mlops plan` finds what a pairwise comparison finds."""

from __future__ import annotations

import itertools
import random

from runner.project.graph import PathIndex


def _overlap(a: str, b: str) -> bool:
    return a == b or a.startswith(b + "/") or b.startswith(a + "/")


def test_index_agrees_with_pairwise_comparison() -> None:
    rng = random.Random(11)
    # "a-b" and "a.b" sort between "a" and "a/...": the sorted index must skip neither way.
    parts = ["a", "b", "ab", "a.b", "a-b"]
    paths = ["/".join(rng.choice(parts) for _ in range(rng.randint(1, 4))) for _ in range(200)]
    index = PathIndex(paths)
    for probe in itertools.islice(paths, 0, None, 3):
        expected = [i for i, path in enumerate(paths) if _overlap(probe, path)]
        assert index.overlapping(probe) == expected
    # A sibling with a common prefix ("a" and "ab") is not inside.
    assert index.overlapping("zz") == []
    # A trailing slash names the same folder.
    assert index.overlapping("a/") == index.overlapping("a")
