"""The `train` step: preprocessing plus any scikit-learn estimator, saved with skops."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from runner.config.step_options import PreprocessOptions, TrainOptions
from runner.ml.errors import StepError, column_hint, first_line
from runner.ml.estimator import import_estimator, make_estimator, predict_in_halves
from runner.ml.features import Feature, prepare_features, select_features
from runner.ml.files import read_parquet, replace_dir
from runner.ml.model_io import write_model_files
from runner.ml.profile import profile_table
from runner.ml.progress import progress
from runner.ml.reference import write_reference
from runner.ml.split import SEED_KEY, TARGET_KEY


def run(options: TrainOptions, inputs: dict[str, Path], outputs: dict[str, Path]) -> None:
    """Fit on `inputs["train"]` and write the model directory `outputs["model"]`."""
    import sklearn
    import skops
    from sklearn.base import is_classifier

    frame, metadata = read_parquet(inputs["train"], "train")
    target = metadata.get(TARGET_KEY)
    if target is None:
        raise StepError(
            f"{inputs['train']} does not record its target column",
            hint="produce the training data with the built-in split step",
        )
    if target not in [str(c) for c in frame.columns]:
        raise StepError(
            f"target column '{target}' not found in {inputs['train']}",
            hint=column_hint(target, [str(c) for c in frame.columns]),
        )
    seed = _seed(metadata.get(SEED_KEY))
    cls = import_estimator(options.estimator)
    estimator, params = make_estimator(options.estimator, cls, options.params, seed)
    features = select_features(frame, target, options.preprocess)
    x = prepare_features(frame, features)
    y = frame[target].reset_index(drop=True)
    missing = int(y.isna().sum())
    if missing:
        raise StepError(
            f"target column '{target}' has {missing} missing value(s) in {inputs['train']}",
            hint="drop or fill those rows in the source data before the split",
        )
    classifier = is_classifier(estimator)
    if not classifier and not _is_number(y):
        raise StepError(
            f"target column '{target}' is not numeric, but {cls.__name__} is a regressor",
            hint="use a classifier for a categorical target, "
            "e.g. sklearn.ensemble.RandomForestClassifier",
        )
    if classifier:
        y = class_labels(y)
    pipeline = build_pipeline(features, options.preprocess, estimator)
    progress(
        "train",
        f"fitting {cls.__name__} on {len(x)} rows x {len(features)} columns",
    )
    try:
        pipeline.fit(x, y)
    except (ValueError, TypeError) as exc:
        raise StepError(
            f"fitting {cls.__name__} failed: {first_line(exc)}",
            hint="check train.with.params, the estimator's task and the training data",
        ) from exc
    meta: dict[str, Any] = {
        "estimator": options.estimator,
        "features": [f.to_json() for f in features],
        "params": params,
        "seed": seed,
        "sklearn_version": sklearn.__version__,
        "skops_version": skops.__version__,
        "target": target,
        "task": "classification" if classifier else "regression",
        "train_rows": len(x),
    }
    if classifier:
        meta["classes"] = [_plain(c) for c in pipeline.classes_]
    # The reference's predictions on the training rows are the longest part after the
    # fit (3 s of a forest on 150,000 rows): computed on other threads while this one
    # profiles the data and saves the model, which only read the fitted pipeline.
    with ThreadPoolExecutor(max_workers=2) as pool:
        predicted = pool.submit(_predict_rows, pool, pipeline, x)
        try:
            profile = profile_table(
                x,
                kinds={f.name: f.kind for f in features},
                dtypes={f.name: f.dtype for f in features},
                target=y,
                target_kind="categorical" if classifier else "numeric",
            )
            with replace_dir(outputs["model"]) as tmp:
                write_model_files(tmp, pipeline, meta, profile)
                write_reference(tmp, x, features, y, meta["task"], predicted.result())
        finally:
            predicted.cancel()
    progress("train", f"wrote {outputs['model']}")


def _predict_rows(pool: ThreadPoolExecutor, pipeline: Any, x: Any) -> Any:
    """`pipeline.predict(x)`; a tree ensemble's rows in two halves, on this thread
    and another of `pool`."""
    return predict_in_halves(pipeline.predict, pipeline.steps[-1][1], x, pool)


def build_pipeline(features: list[Feature], preprocess: PreprocessOptions, estimator: Any) -> Any:
    """ColumnTransformer (impute, scale, encode) followed by `estimator`."""
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder, OrdinalEncoder, StandardScaler

    numeric = [f.name for f in features if f.kind == "numeric"]
    categorical = [f.name for f in features if f.kind == "categorical"]
    transformers: list[tuple[str, Any, list[str]]] = []
    if numeric:
        steps: list[tuple[str, Any]] = [
            ("impute", SimpleImputer(strategy=preprocess.impute_numeric))
        ]
        if preprocess.scale:
            steps.append(("scale", StandardScaler()))
        transformers.append(("numeric", Pipeline(steps), numeric))
    if categorical:
        encoder: Any
        if preprocess.one_hot:
            encoder = OneHotEncoder(handle_unknown="ignore", sparse_output=False)
        else:
            # Estimators need numbers; integer codes are the alternative to one-hot.
            encoder = OrdinalEncoder(handle_unknown="use_encoded_value", unknown_value=-1)
        imputer = SimpleImputer(strategy=preprocess.impute_categorical, fill_value="missing")
        transformers.append(
            ("categorical", Pipeline([("impute", imputer), ("encode", encoder)]), categorical)
        )
    # Dense output: not every estimator accepts the sparse matrices a
    # ColumnTransformer would otherwise choose for mostly-zero one-hot data.
    preprocessor = ColumnTransformer(transformers, sparse_threshold=0.0)
    return Pipeline([("preprocess", preprocessor), ("estimator", estimator)])


def class_labels(series: Any) -> Any:
    """Class labels as the model should learn them: bools and integers keep their numpy
    dtype (scikit-learn calls an object array of numbers "unknown" and refuses it), and
    anything else becomes plain Python objects, as string labels always were."""
    from pandas.api import types

    if types.is_bool_dtype(series.dtype):
        return series.astype(bool)
    if types.is_integer_dtype(series.dtype):
        return series.astype("int64")
    return series.astype(object)


def _is_number(series: Any) -> bool:
    from pandas.api import types

    return bool(types.is_numeric_dtype(series.dtype) and not types.is_bool_dtype(series.dtype))


def _seed(text: str | None) -> int:
    if text is None:
        return 0
    try:
        return int(text)
    except ValueError:
        raise StepError(
            f"invalid seed {text!r} recorded in the training data",
            hint="re-run the split stage (dvc repro)",
        ) from None


def _plain(value: Any) -> Any:
    # numpy scalars are not JSON-serialisable; .item() gives the Python value.
    return value.item() if hasattr(value, "item") else value
