"""The `split` step: a seeded train/test split that records the target name."""

from __future__ import annotations

from pathlib import Path

from runner.config.step_options import SplitOptions
from runner.ml.errors import StepError, column_hint, first_line
from runner.ml.files import read_parquet, write_parquet
from runner.ml.progress import progress

# Schema metadata keys through which split tells train and evaluate what it did.
TARGET_KEY = "mlops.target"
SEED_KEY = "mlops.seed"


def run(options: SplitOptions, inputs: dict[str, Path], outputs: dict[str, Path]) -> None:
    """Split `inputs["data"]` into `outputs["train"]` and `outputs["test"]`."""
    from sklearn.model_selection import train_test_split

    frame, _ = read_parquet(inputs["data"], "data")
    target = options.target
    columns = [str(c) for c in frame.columns]
    if target not in columns:
        raise StepError(
            f"target column '{target}' not found in {inputs['data']}",
            hint=column_hint(target, columns),
        )
    missing = int(frame[target].isna().sum())
    if missing:
        raise StepError(
            f"target column '{target}' has {missing} missing value(s)",
            hint="drop or fill those rows in the source data before the split",
        )
    if options.stratify:
        counts = frame[target].value_counts(sort=False)
        rare = sorted((int(n), str(label)) for label, n in counts.items() if n < 2)
        if rare:
            n, label = rare[0]
            raise StepError(
                f"cannot stratify on '{target}': class '{label}' has only {n} row",
                hint="set stratify: false, or add rows of that class",
            )
    try:
        train, test = train_test_split(
            frame,
            test_size=options.test_size,
            random_state=options.seed,
            stratify=frame[target] if options.stratify else None,
        )
    except ValueError as exc:
        raise StepError(
            f"cannot split {len(frame)} rows with test_size {options.test_size}: {first_line(exc)}",
            hint="change test_size, add rows, or set stratify: false",
        ) from exc
    progress("split", f"{len(train)} train rows, {len(test)} test rows (seed {options.seed})")
    metadata = {TARGET_KEY: target, SEED_KEY: str(options.seed)}
    write_parquet(outputs["train"], train.reset_index(drop=True), metadata)
    write_parquet(outputs["test"], test.reset_index(drop=True), metadata)
