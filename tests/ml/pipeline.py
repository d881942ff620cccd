"""Run the four built-in steps the way a compiled pipeline would."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from runner.config.step_options import (
    EvaluateOptions,
    IngestOptions,
    SplitOptions,
    TrainOptions,
)
from runner.ml import run_step


@dataclass(frozen=True)
class Run:
    """The files of one ingest -> split -> train -> evaluate run."""

    root: Path

    @property
    def data(self) -> Path:
        return self.root / "data" / "data.parquet"

    @property
    def train(self) -> Path:
        return self.root / "data" / "train.parquet"

    @property
    def test(self) -> Path:
        return self.root / "data" / "test.parquet"

    @property
    def model(self) -> Path:
        return self.root / "models" / "model"

    @property
    def metrics(self) -> Path:
        return self.root / "metrics" / "metrics.json"

    @property
    def plots(self) -> Path:
        return self.root / "plots"


def run_pipeline(
    root: Path,
    source: str,
    target: str,
    estimator: str,
    params: dict[str, object] | None = None,
    stratify: bool = False,
) -> Run:
    """Run the four built-in steps into `root`."""
    run = Run(root)
    run_step("ingest", IngestOptions(source=source), {}, {"data": run.data})
    run_step(
        "split",
        SplitOptions(target=target, stratify=stratify, seed=7),
        {"data": run.data},
        {"train": run.train, "test": run.test},
    )
    run_step(
        "train",
        TrainOptions(estimator=estimator, params=params or {}),
        {"train": run.train},
        {"model": run.model},
    )
    run_step(
        "evaluate",
        EvaluateOptions(),
        {"model": run.model, "test": run.test},
        {"metrics": run.metrics, "plots": run.plots},
    )
    return run
