"""Saving and loading the model directory: skops only, byte-reproducible, checksummed.

skops writes a zip whose entries carry the current time, whose array files are
named after `id(obj)` and whose schema records `id(obj)` as `__id__`. All three
change from run to run, so the archive is rewritten with ids and file names
numbered in schema order, fixed timestamps and sorted entries: the same data
and seed then give byte-identical files, and DVC sees no spurious change.
"""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path
from typing import Any

from runner.fsutil import sha256_bytes
from runner.ml.errors import StepError, first_line
from runner.ml.files import dumps_json, require_dir, write_bytes

MODEL_FILE = "model.skops"
DIGEST_FILE = "model.skops.sha256"
META_FILE = "meta.json"
PROFILE_FILE = "profile.json"
# What evaluate (and later serving) needs from meta.json.
META_KEYS = ("estimator", "features", "target", "task")

# Only types from these packages are ever trusted when loading a model.
TRUSTED_PACKAGES = ("sklearn", "numpy", "scipy")

_ZIP_DATE = (1980, 1, 1, 0, 0, 0)
# Stored, not deflated: the bytes then do not depend on the zlib build either.
_ZIP_COMPRESSION = zipfile.ZIP_STORED


def dumps_model(model: Any) -> bytes:
    """The model as reproducible skops bytes, refused if it would not load back."""
    import skops.io as sio

    data = normalise_archive(sio.dumps(model))
    refused = _refused_types(sio.get_untrusted_types(data=data))
    if refused:
        raise StepError(
            "the model needs types outside scikit-learn, numpy and scipy: " + ", ".join(refused),
            hint="use a scikit-learn estimator; other types are refused when the model is loaded",
        )
    return data


def normalise_archive(data: bytes) -> bytes:
    """Rewrite a skops zip so that it depends only on the model, not on the run."""
    with zipfile.ZipFile(io.BytesIO(data)) as source:
        entries = {name: source.read(name) for name in source.namelist()}
    schema = json.loads(entries.pop("schema.json"))
    ids: dict[int, int] = {}
    files: dict[str, str] = {}
    _renumber(schema, ids, files)
    renamed = {files[name]: content for name, content in entries.items()}
    # skops writes the schema with indent=2; keep that form.
    renamed["schema.json"] = json.dumps(schema, indent=2).encode("utf-8")
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as target:
        for name in sorted(renamed):
            info = zipfile.ZipInfo(name, date_time=_ZIP_DATE)
            info.compress_type = _ZIP_COMPRESSION
            info.create_system = 3
            info.external_attr = 0o644 << 16
            target.writestr(info, renamed[name])
    return out.getvalue()


def _renumber(node: Any, ids: dict[int, int], files: dict[str, str]) -> None:
    # Numbering starts at 1 because skops treats an `__id__` of 0 as absent.
    if isinstance(node, dict):
        if "__loader__" in node:
            if isinstance(node.get("__id__"), int):
                node["__id__"] = ids.setdefault(node["__id__"], len(ids) + 1)
            name = node.get("file")
            if isinstance(name, str):
                suffix = Path(name).suffix
                node["file"] = files.setdefault(name, f"{len(files) + 1}{suffix}")
        for value in node.values():
            _renumber(value, ids, files)
    elif isinstance(node, list):
        for value in node:
            _renumber(value, ids, files)


def digest_line(data: bytes) -> str:
    """The `sha256sum` line for the model file."""
    return f"{sha256_bytes(data)}  {MODEL_FILE}\n"


def write_model_files(
    directory: Path, model_bytes: bytes, meta: dict[str, Any], profile: dict[str, Any]
) -> None:
    """Write the four files of a model directory into `directory`."""
    write_bytes(directory / MODEL_FILE, model_bytes)
    write_bytes(directory / DIGEST_FILE, digest_line(model_bytes).encode("ascii"))
    write_bytes(directory / META_FILE, dumps_json(meta).encode("utf-8"))
    write_bytes(directory / PROFILE_FILE, dumps_json(profile).encode("utf-8"))


def read_verified(model_dir: Path) -> bytes:
    """The bytes of model.skops after checking them against model.skops.sha256."""
    require_dir(model_dir, "model")
    model_path = model_dir / MODEL_FILE
    digest_path = model_dir / DIGEST_FILE
    for path in (model_path, digest_path):
        if not path.is_file():
            raise StepError(
                f"model directory has no {path.name}: {model_dir}",
                hint="re-run the train stage (dvc repro)",
            )
    data = model_path.read_bytes()
    recorded = digest_path.read_text(encoding="ascii", errors="replace").split()
    if not recorded or recorded[0].lower() != sha256_bytes(data):
        raise StepError(
            f"{model_path} does not match its checksum in {DIGEST_FILE}",
            hint="the model file was changed after training; re-run the train stage (dvc repro)",
        )
    return data


def load_model(model_dir: Path) -> Any:
    """Load a trained model after verifying its checksum and the types it contains.

    Only types from scikit-learn, numpy and scipy are trusted; anything else is
    refused with a StepError before a single object is constructed.
    """
    import skops.io as sio

    data = read_verified(Path(model_dir))
    try:
        untrusted = sio.get_untrusted_types(data=data)
    except (zipfile.BadZipFile, KeyError, ValueError, TypeError) as exc:
        raise StepError(
            f"{Path(model_dir) / MODEL_FILE} is not a valid skops file ({first_line(exc)})",
            hint="re-run the train stage (dvc repro)",
        ) from exc
    refused = _refused_types(untrusted)
    if refused:
        raise StepError(
            f"refusing to load {Path(model_dir) / MODEL_FILE}: untrusted types "
            + ", ".join(refused),
            hint="only scikit-learn, numpy and scipy types are loaded; retrain with the train step",
        )
    return sio.loads(data, trusted=untrusted)


def read_meta(model_dir: Path) -> dict[str, Any]:
    """The model's meta.json."""
    path = Path(model_dir) / META_FILE
    if not path.is_file():
        raise StepError(
            f"model directory has no {META_FILE}: {model_dir}",
            hint="re-run the train stage (dvc repro)",
        )
    try:
        meta = json.loads(path.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as exc:
        raise StepError(
            f"{path} is not valid JSON ({first_line(exc)})",
            hint="re-run the train stage (dvc repro)",
        ) from exc
    missing = [k for k in META_KEYS if k not in meta] if isinstance(meta, dict) else list(META_KEYS)
    if missing:
        raise StepError(
            f"{path} lacks " + ", ".join(missing),
            hint="re-run the train stage (dvc repro)",
        )
    return dict(meta)


def _refused_types(types: list[str]) -> list[str]:
    return sorted(t for t in types if t.split(".", 1)[0] not in TRUSTED_PACKAGES)
