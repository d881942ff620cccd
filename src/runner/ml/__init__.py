"""Runtime of the built-in ML steps: ingest, split, train, evaluate.

Importing this package is cheap: pandas, scikit-learn and skops are imported
only when a step runs, so `mlops validate` and the compiler stay fast.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel

from runner.config.steps import STEPS
from runner.ml.errors import StepError

if TYPE_CHECKING:
    import pandas as pd

    from runner.ml.features import Feature

__all__ = ["StepError", "load_model", "prepare_features", "run_step"]


def run_step(
    step: str, options: BaseModel, inputs: dict[str, Path], outputs: dict[str, Path]
) -> None:
    """Run built-in `step` with its validated `options`, reading `inputs`, writing `outputs`.

    Raises StepError for problems the user can fix. A wrong step name, options
    type or set of input/output names is a bug in the caller: ValueError/TypeError.
    """
    spec = STEPS.get(step)
    if spec is None:
        raise ValueError(f"unknown built-in step {step!r}; known: {', '.join(STEPS)}")
    if not isinstance(options, spec.options):
        raise TypeError(
            f"step {step!r} needs {spec.options.__name__}, got {type(options).__name__}"
        )
    for role, given, expected in (
        ("inputs", inputs, spec.inputs),
        ("outputs", outputs, spec.outputs),
    ):
        if set(given) != set(expected):
            raise ValueError(
                f"step {step!r} {role} must be {sorted(expected)}, got {sorted(given)}"
            )
    module = importlib.import_module(spec.module)
    module.run(
        options,
        inputs={k: Path(v) for k, v in inputs.items()},
        outputs={k: Path(v) for k, v in outputs.items()},
    )


def load_model(model_dir: Path) -> Any:
    """Load the model that `train` wrote to `model_dir`, verifying checksum and types."""
    from runner.ml.model_io import load_model as _load

    return _load(Path(model_dir))


def prepare_features(frame: pd.DataFrame, features: list[Feature]) -> pd.DataFrame:
    """Convert raw rows the way the model saw them in training (see runner.ml.features)."""
    from runner.ml.features import prepare_features as _prepare

    return _prepare(frame, features)
