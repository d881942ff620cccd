"""Loading a model to serve: from a model folder, or from what a target's pointer names.

A target version is read file by file into a private folder, its manifest digest
compared with the pointer's, and then loaded by `ml.model_io` (the model file's own
sha256, skops with only scikit-learn, numpy and scipy types trusted; never pickle).
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from runner.errors import CheckFailed, MlopsError
from runner.fsutil import manifest, manifest_digest, write_atomic

if TYPE_CHECKING:
    from runner.deploy.targets.base import Pointer, Target

# The files of a model folder (`ml.model_io` writes them), in the order they are read.
MODEL_FILES = ("meta.json", "model.skops", "model.skops.sha256", "profile.json")
# Files only newer versions have (`reference.json`, for `mlops monitor`): read when stored.
# The digest check below still covers them: a version stored with one cannot pass without it.
OPTIONAL_FILES = ("reference.json",)


@dataclass(frozen=True)
class ModelInput:
    """One input the model takes: a name and numeric or categorical."""

    name: str
    kind: str  # "numeric" | "categorical"
    missing_ok: bool  # the training data had missing values in this column


@dataclass(frozen=True)
class LoadedModel:
    """A verified, loaded model with what serving needs to know about it."""

    name: str
    version: str
    digest: str  # the manifest digest (the target pointer's), "" for a bare folder
    estimator: Any
    task: str
    features: tuple[ModelInput, ...]
    classes: tuple[Any, ...] = field(default=())

    @property
    def feature_names(self) -> list[str]:
        return [f.name for f in self.features]

    def predict(self, frame: Any) -> Any:
        """The model's predictions for the rows of `frame` (a pandas DataFrame)."""
        return self.estimator.predict(frame)

    def predict_proba(self, frame: Any) -> Any:
        """Class probabilities, in the order of `classes` (classifiers only)."""
        return self.estimator.predict_proba(frame)


def _model_error(exc: Exception) -> CheckFailed:
    if isinstance(exc, MlopsError):
        return CheckFailed(exc.message, exc.hint)
    return CheckFailed(str(exc))


def load_dir(folder: Path, *, name: str = "", version: str = "", digest: str = "") -> LoadedModel:
    """Load the model folder `folder` (model.skops, its sha256, meta.json, profile.json)."""
    from runner.ml import model_io

    folder = Path(folder)
    if not folder.is_dir():
        raise CheckFailed(
            f"no model folder at {folder}",
            "give the folder that holds model.skops and meta.json (e.g. outputs/iris/train/model)",
        )
    try:
        meta = model_io.read_meta(folder)
        estimator = model_io.load_model(folder)
    except Exception as exc:
        raise _model_error(exc) from exc
    profile = _profile(folder)
    features = tuple(
        ModelInput(
            name=str(f["name"]),
            kind=str(f["kind"]),
            missing_ok=bool(profile.get(str(f["name"]), {}).get("missing", 0)),
        )
        for f in meta["features"]
    )
    return LoadedModel(
        name=name or folder.name,
        version=version or "local",
        digest=digest,
        estimator=estimator,
        task=str(meta["task"]),
        features=features,
        classes=tuple(meta.get("classes") or ()),
    )


def _profile(folder: Path) -> dict[str, Any]:
    import json

    try:
        data = json.loads((folder / "profile.json").read_text("utf-8"))
    except (OSError, ValueError):
        return {}
    columns = data.get("columns") if isinstance(data, dict) else None
    return columns if isinstance(columns, dict) else {}


def fetch_version(target: Target, pointer: Pointer, dest: Path) -> Path:
    """Copy the version `pointer` names from `target` into `dest` and check its digest."""
    from runner.deploy.targets.base import TargetError

    folder = dest / pointer.version
    folder.mkdir(parents=True, exist_ok=True)
    for rel in MODEL_FILES + OPTIONAL_FILES:
        try:
            data = target.read_file(pointer.model, pointer.version, rel)
        except TargetError as exc:
            if rel in OPTIONAL_FILES:
                continue
            raise CheckFailed(
                f"{target.describe()}: cannot read {rel} of {pointer.model} {pointer.version}: "
                f"{exc.message}",
                "deploy the version again (`mlops deploy`)",
            ) from exc
        write_atomic(folder / rel, data)
    found = manifest_digest(manifest(folder))
    if found != pointer.digest:
        raise CheckFailed(
            f"{target.describe()}: {pointer.model} {pointer.version} does not match its "
            f"pointer's digest (expected {pointer.digest[:12]}…, got {found[:12]}…)",
            "the stored files were altered; deploy the version again (`mlops deploy`)",
        )
    return folder


def load_pointer(target: Target, pointer: Pointer) -> LoadedModel:
    """Fetch, verify and load the version `pointer` names."""
    with tempfile.TemporaryDirectory(prefix="mlops-serve-") as tmp:
        folder = fetch_version(target, pointer, Path(tmp))
        return load_dir(folder, name=pointer.model, version=pointer.version, digest=pointer.digest)


def current_pointer(target: Target, model: str) -> Pointer:
    """What `target` serves for `model`; CheckFailed when nothing was deployed."""
    pointer = target.current(model)
    if pointer is None:
        raise CheckFailed(
            f"{target.describe()}: nothing deployed for {model}",
            "deploy a version first: mlops deploy",
        )
    return pointer
