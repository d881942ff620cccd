"""The `split` step: a seeded train/test split that records the target name."""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

from runner.config.step_options import SplitOptions
from runner.ml.errors import StepError, column_hint, first_line
from runner.ml.files import read_parquet, write_parquet
from runner.ml.progress import progress

if TYPE_CHECKING:
    import numpy as np

# Schema metadata keys through which split tells train and evaluate what it did.
TARGET_KEY = "mlops.target"
SEED_KEY = "mlops.seed"


def run(options: SplitOptions, inputs: dict[str, Path], outputs: dict[str, Path]) -> None:
    """Split `inputs["data"]` into `outputs["train"]` and `outputs["test"]`."""
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
    labels = frame[target].to_numpy() if options.stratify else None
    try:
        train_rows, test_rows = split_rows(len(frame), options.test_size, options.seed, labels)
    except ValueError as exc:
        raise StepError(
            f"cannot split {len(frame)} rows with test_size {options.test_size}: {first_line(exc)}",
            hint="change test_size, add rows, or set stratify: false",
        ) from exc
    train, test = frame.take(train_rows), frame.take(test_rows)
    progress("split", f"{len(train)} train rows, {len(test)} test rows (seed {options.seed})")
    metadata = {TARGET_KEY: target, SEED_KEY: str(options.seed)}
    write_parquet(outputs["train"], train.reset_index(drop=True), metadata)
    write_parquet(outputs["test"], test.reset_index(drop=True), metadata)


def split_rows(
    n: int, test_size: float, seed: int, labels: Any | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Row positions of the train and test sides of `n` rows.

    The same rows, in the same order, as scikit-learn's `train_test_split(...,
    test_size=test_size, random_state=seed, stratify=labels)`: a seeded
    permutation, or with `labels` a per-class share drawn from the same
    RandomState stream. Kept here so that the split stage does not import
    scikit-learn (tests/ml/test_ml_split.py compares both).
    """
    import numpy as np

    n_test = math.ceil(test_size * n)
    n_train = n - n_test
    if n_train == 0:
        raise ValueError(
            f"With n_samples={n}, test_size={test_size} and train_size=None, the resulting "
            "train set will be empty. Adjust any of the aforementioned parameters."
        )
    rng = np.random.RandomState(seed)
    if labels is None:
        order = rng.permutation(n)
        return order[n_test:], order[:n_test]
    classes, codes, counts = np.unique(labels, return_inverse=True, return_counts=True)
    for side, size in (("train", n_train), ("test", n_test)):
        if size < len(classes):
            raise ValueError(
                f"The {side}_size = {size} should be greater or equal to the number of "
                f"classes = {len(classes)}"
            )
    members = np.split(np.argsort(codes, kind="stable"), np.cumsum(counts)[:-1])
    to_train = _shares(counts, n_train, rng)
    to_test = _shares(counts - to_train, n_test, rng)
    train: list[np.ndarray] = []
    test: list[np.ndarray] = []
    for i, rows in enumerate(members):
        shuffled = rows.take(rng.permutation(counts[i]), mode="clip")
        train.append(shuffled[: to_train[i]])
        test.append(shuffled[to_train[i] : to_train[i] + to_test[i]])
    return rng.permutation(np.concatenate(train)), rng.permutation(np.concatenate(test))


def _shares(counts: np.ndarray, draws: int, rng: np.random.RandomState) -> np.ndarray:
    """How many of `draws` rows each class gives: its floored proportional share, then one
    more for the classes with the largest remainders, ties broken at random."""
    import numpy as np

    exact = counts / counts.sum() * draws
    shares = np.floor(exact)
    missing = int(draws - shares.sum())
    if missing > 0:
        remainder = exact - shares
        for value in np.sort(np.unique(remainder))[::-1]:
            (tied,) = np.where(remainder == value)
            take = min(len(tied), missing)
            shares[rng.choice(tied, size=take, replace=False)] += 1
            missing -= take
            if missing == 0:
                break
    result: np.ndarray = shares.astype(int)
    return result
