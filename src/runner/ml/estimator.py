"""Import a scikit-learn estimator by dotted path and instantiate it with checked params."""

from __future__ import annotations

import difflib
import importlib
import inspect
from collections.abc import Mapping
from typing import Any

from runner.ml.errors import StepError

EXAMPLE = "sklearn.ensemble.RandomForestClassifier"


def import_estimator(path: str) -> type[Any]:
    """The estimator class at `path`; it must subclass sklearn.base.BaseEstimator."""
    from sklearn.base import BaseEstimator

    module_name, _, attribute = path.rpartition(".")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise StepError(
            f"estimator '{path}': cannot import module '{module_name}' ({exc})",
            hint=f"check the dotted path (e.g. {EXAMPLE}) and that its package is installed",
        ) from exc
    try:
        value = getattr(module, attribute)
    except AttributeError:
        public = [n for n in dir(module) if not n.startswith("_")]
        close = difflib.get_close_matches(attribute, public, n=1)
        hint = (
            f"did you mean '{module_name}.{close[0]}'?"
            if close
            else f"check the class name, e.g. {EXAMPLE}"
        )
        raise StepError(
            f"estimator '{path}': module '{module_name}' has no attribute '{attribute}'", hint
        ) from None
    if not (inspect.isclass(value) and issubclass(value, BaseEstimator)):
        raise StepError(
            f"estimator '{path}' is not a scikit-learn estimator class",
            hint=f"use a class that subclasses sklearn.base.BaseEstimator, e.g. {EXAMPLE}",
        )
    return value


def unknown_params(
    path: str, cls: type[Any], params: Mapping[str, Any]
) -> list[tuple[str, StepError]]:
    """Each param of `params` that `cls` does not take, with the error that names it."""
    names = sorted(cls._get_param_names())
    out = []
    for name in sorted(params):
        if name not in names:
            close = difflib.get_close_matches(name, names, n=1)
            hint = f"did you mean '{close[0]}'?" if close else "valid: " + ", ".join(names)
            out.append((name, StepError(f"estimator '{path}' has no parameter '{name}'", hint)))
    return out


def make_estimator(
    path: str, cls: type[Any], params: Mapping[str, Any], seed: int
) -> tuple[Any, dict[str, Any]]:
    """Instantiate `cls` with `params`, seeding `random_state` when it has one and none is set.

    Returns the estimator and the parameters it was actually given.
    """
    from sklearn.base import is_classifier, is_regressor

    names = sorted(cls._get_param_names())
    unknown = unknown_params(path, cls, params)
    if unknown:
        raise unknown[0][1]
    effective = dict(params)
    if "random_state" in names and "random_state" not in effective:
        # Reproducible by default: the seed of the split also seeds the model.
        effective["random_state"] = seed
    try:
        estimator = cls(**effective)
    except (TypeError, ValueError) as exc:
        raise StepError(
            f"estimator '{path}' cannot be created: {exc}",
            hint="check train.with.params against the estimator's documentation",
        ) from exc
    if not (is_classifier(estimator) or is_regressor(estimator)):
        raise StepError(
            f"estimator '{path}' is neither a classifier nor a regressor",
            hint=f"use a supervised estimator, e.g. {EXAMPLE} or sklearn.linear_model.Ridge",
        )
    return estimator, dict(sorted(effective.items()))


# Below this many rows a second thread costs more than it saves.
_SPLIT_ROWS = 10_000


def predict_in_halves(method: Any, estimator: Any, rows: Any, pool: Any = None) -> Any:
    """`method(rows)` (a `predict` or `predict_proba`), for a tree ensemble in two halves.

    A tree ensemble (anything with `estimators_`) predicts each row on its own and
    mostly without holding the GIL, so its rows are predicted in two halves on two
    threads and joined: the same values, in the same order, in a bit more than half
    the time on two cores. `rows` is a DataFrame or an array; `pool`, an executor
    with a free worker, else a thread is started for the call.
    """
    if len(rows) < _SPLIT_ROWS or not hasattr(estimator, "estimators_"):
        return method(rows)
    import numpy as np

    def part(lo: int | None, hi: int | None) -> Any:
        chunk = rows.iloc[lo:hi] if hasattr(rows, "iloc") else rows[lo:hi]
        return method(chunk)

    half = len(rows) // 2
    if pool is not None:
        return _joined(np, part(None, half), pool.submit(part, half, None))
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=1) as own:
        second = own.submit(part, half, None)
        return _joined(np, part(None, half), second)


def _joined(np: Any, first: Any, second: Any) -> Any:
    return np.concatenate([first, second.result()])
