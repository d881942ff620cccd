"""The explicit registry of built-in steps.

Each entry names the step's option model (validated by `mlops validate`), the
inputs it consumes from earlier stages, and the outputs it writes inside its
stage folder. Compile and validation both read this dict; nothing is
discovered implicitly.
"""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import BaseModel

from runner.config.step_options import (
    EvaluateOptions,
    IngestOptions,
    SplitOptions,
    TrainOptions,
)


@dataclass(frozen=True)
class StepSpec:
    name: str
    options: type[BaseModel]
    # The module in runner.ml whose run() does the work (imported only to run it).
    module: str
    # Input names, each satisfied by an earlier stage's output of the same name.
    inputs: tuple[str, ...]
    # Output name -> file or folder name inside the stage's folder.
    outputs: dict[str, str]
    # Outputs kept in git rather than the DVC cache (metrics), and plot folders.
    metrics: tuple[str, ...] = ()
    plots: tuple[str, ...] = ()
    summary: str = ""


STEPS: dict[str, StepSpec] = {
    spec.name: spec
    for spec in (
        StepSpec(
            "ingest",
            IngestOptions,
            "runner.ml.ingest",
            inputs=(),
            outputs={"data": "data.parquet"},
            summary="read a CSV, parquet file or bundled scikit-learn dataset",
        ),
        StepSpec(
            "split",
            SplitOptions,
            "runner.ml.split",
            inputs=("data",),
            outputs={"train": "train.parquet", "test": "test.parquet"},
            summary="seeded train/test split, stratified on request",
        ),
        StepSpec(
            "train",
            TrainOptions,
            "runner.ml.train",
            inputs=("train",),
            outputs={"model": "model"},
            summary="fit a scikit-learn estimator with preprocessing",
        ),
        StepSpec(
            "evaluate",
            EvaluateOptions,
            "runner.ml.evaluate",
            inputs=("model", "test"),
            outputs={"metrics": "metrics.json", "plots": "plots"},
            metrics=("metrics",),
            plots=("plots",),
            summary="score the model; metrics JSON and plot data",
        ),
    )
}
