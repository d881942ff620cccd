"""A generated project of many small pipelines (4 built-in stages each), for plan at scale."""

from __future__ import annotations

from pathlib import Path

PROJECT = """version: 1
project: many
storage:
  default: local
  remotes:
    local: {url: .mlops/storage}
ci:
  runs_on: ubuntu-latest
"""

PIPELINE = """description: generated pipeline {index}
params:
  seed: {index}
  train: {{n_estimators: 10, max_depth: 3}}
stages:
  ingest:
    step: ingest
    with: {{source: "sklearn:iris"}}
  split:
    step: split
    with: {{target: species, test_size: 0.25, seed: "${{seed}}"}}
  train:
    step: train
    with:
      estimator: sklearn.ensemble.RandomForestClassifier
      params: "${{train}}"
  evaluate:
    step: evaluate
    with: {{metrics: [accuracy]}}
"""


def write_project(root: Path, count: int) -> list[str]:
    """Write mlops.yaml, deployments.yaml and `count` pipelines p0000...; their names."""
    (root / "pipelines").mkdir(parents=True, exist_ok=True)
    (root / "mlops.yaml").write_text(PROJECT, "utf-8")
    (root / "deployments.yaml").write_text("{}\n", "utf-8")
    names = [f"p{index:04d}" for index in range(count)]
    for index, name in enumerate(names):
        (root / "pipelines" / f"{name}.yaml").write_text(PIPELINE.format(index=index), "utf-8")
    return names
