"""The model file: reproducible archive, checksum verification, refusal of untrusted types."""

from __future__ import annotations

import hashlib
import io
import json
import math
import shutil
import zipfile
from pathlib import Path

import pytest
from sklearn.preprocessing import FunctionTransformer

from runner.ml import StepError, load_model
from runner.ml.model_io import normalise_archive, save_model

from .pipeline import Run

RETRAIN = "re-run the train stage (dvc repro)"


@pytest.fixture
def model_copy(tmp_path: Path, iris: Run) -> Path:
    """A private copy of the iris model that a test may damage."""
    return Path(shutil.copytree(iris.model, tmp_path / "model"))


def test_archive_is_normalised(iris: Run) -> None:
    data = (iris.model / "model.skops").read_bytes()
    assert normalise_archive(data) == data
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        infos = archive.infolist()
    assert [i.filename for i in infos] == sorted(i.filename for i in infos)
    assert {i.date_time for i in infos} == {(1980, 1, 1, 0, 0, 0)}
    assert {i.compress_type for i in infos} == {zipfile.ZIP_STORED}


def test_load_model_predicts(iris: Run) -> None:
    import pandas as pd

    model = load_model(iris.model)
    test = pd.read_parquet(iris.test)
    assert set(model.predict(test.drop(columns="species"))) <= {"setosa", "versicolor", "virginica"}


def test_byte_flip_fails_verification(model_copy: Path) -> None:
    path = model_copy / "model.skops"
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))
    with pytest.raises(StepError) as caught:
        load_model(model_copy)
    assert caught.value.message == f"{path} does not match its checksum in model.skops.sha256"
    assert caught.value.hint == (
        "the model file was changed after training; re-run the train stage (dvc repro)"
    )


def test_tampered_types_are_refused_even_with_a_fresh_checksum(model_copy: Path) -> None:
    path = model_copy / "model.skops"
    with zipfile.ZipFile(path) as archive:
        entries = {name: archive.read(name) for name in archive.namelist()}
    schema = json.loads(entries["schema.json"])
    schema["__module__"] = "evil.payload"
    entries["schema.json"] = json.dumps(schema).encode()
    with zipfile.ZipFile(path, "w") as archive:
        for name, content in entries.items():
            archive.writestr(name, content)
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    (model_copy / "model.skops.sha256").write_text(f"{digest}  model.skops\n")
    with pytest.raises(StepError) as caught:
        load_model(model_copy)
    assert caught.value.message == f"refusing to load {path}: untrusted types evil.payload.Pipeline"
    assert caught.value.hint == (
        "only scikit-learn, numpy and scipy types are loaded; retrain with the train step"
    )


def test_garbage_with_matching_checksum(model_copy: Path) -> None:
    path = model_copy / "model.skops"
    path.write_bytes(b"not a zip")
    digest = hashlib.sha256(b"not a zip").hexdigest()
    (model_copy / "model.skops.sha256").write_text(f"{digest}  model.skops\n")
    with pytest.raises(StepError) as caught:
        load_model(model_copy)
    assert caught.value.message == f"{path} is not a valid skops file (File is not a zip file)"
    assert caught.value.hint == RETRAIN


def _rewrite(model_dir: Path, change: dict[str, bytes | None]) -> Path:
    """Rewrite the archive's members (None: drop one) and give it a matching checksum."""
    path = model_dir / "model.skops"
    with zipfile.ZipFile(path) as archive:
        entries = {name: archive.read(name) for name in archive.namelist()}
    for name, content in change.items():
        if content is None:
            entries.pop(name)
        else:
            entries[name] = content
    with zipfile.ZipFile(path, "w") as archive:
        for name, content in entries.items():
            archive.writestr(name, content)
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    (model_dir / "model.skops.sha256").write_text(f"{digest}  model.skops\n")
    return path


def _largest_array(model_dir: Path) -> str:
    with zipfile.ZipFile(model_dir / "model.skops") as archive:
        arrays = [i for i in archive.infolist() if i.filename.endswith(".npy")]
    return max(arrays, key=lambda i: i.file_size).filename


def test_an_array_that_fails_its_crc_is_a_broken_file(model_copy: Path) -> None:
    # Arrays are read while the model is built, after the audit: a member whose bytes
    # no longer match the archive's CRC is reported as a broken file, not a traceback.
    name = _largest_array(model_copy)
    path = _rewrite(model_copy, {})
    data = bytearray(path.read_bytes())
    with zipfile.ZipFile(path) as archive:
        info = archive.getinfo(name)
    start = info.header_offset + 30 + len(info.filename.encode()) + len(info.extra)
    data[start + info.file_size - 1] ^= 0x01
    path.write_bytes(bytes(data))
    digest = hashlib.sha256(bytes(data)).hexdigest()
    (model_copy / "model.skops.sha256").write_text(f"{digest}  model.skops\n")
    with pytest.raises(StepError) as caught:
        load_model(model_copy)
    assert caught.value.message == (
        f"{path} is not a valid skops file (Bad CRC-32 for file '{name}')"
    )
    assert caught.value.hint == RETRAIN


def test_a_missing_array_is_a_broken_file(model_copy: Path) -> None:
    name = _largest_array(model_copy)
    path = _rewrite(model_copy, {name: None})
    with pytest.raises(StepError) as caught:
        load_model(model_copy)
    assert caught.value.message.startswith(f"{path} is not a valid skops file (")
    assert name in caught.value.message
    assert caught.value.hint == RETRAIN


def test_loaded_arrays_equal_what_skops_loads(iris: Run) -> None:
    import numpy as np
    import pandas as pd
    import skops.io

    path = iris.model / "model.skops"
    ours = load_model(iris.model)
    theirs = skops.io.load(path, trusted=skops.io.get_untrusted_types(file=path))
    for mine, other in zip(ours.steps, theirs.steps, strict=True):
        assert type(mine[1]) is type(other[1])
    rows = np.random.default_rng(0).normal(size=(50, 4))
    x = pd.DataFrame(rows, columns=ours.feature_names_in_)
    assert (ours.predict(x) == theirs.predict(x)).all()


@pytest.mark.parametrize("name", ["model.skops", "model.skops.sha256"])
def test_missing_file(model_copy: Path, name: str) -> None:
    (model_copy / name).unlink()
    with pytest.raises(StepError) as caught:
        load_model(model_copy)
    assert caught.value.message == f"model directory has no {name}: {model_copy}"
    assert caught.value.hint == RETRAIN


def test_missing_directory(tmp_path: Path) -> None:
    with pytest.raises(StepError) as caught:
        load_model(tmp_path / "nothing")
    assert caught.value.message == f"input 'model' is missing: {tmp_path / 'nothing'}"


def test_saving_refuses_types_that_would_not_load(tmp_path: Path) -> None:
    with pytest.raises(StepError) as caught:
        save_model(tmp_path / "model.skops", FunctionTransformer(func=math.sqrt))
    assert caught.value.message == (
        "the model needs types outside scikit-learn, numpy and scipy: math.sqrt"
    )
    assert caught.value.hint == (
        "use a scikit-learn estimator; other types are refused when the model is loaded"
    )
    assert list(tmp_path.iterdir()) == []  # nothing half-written is left behind


def test_streamed_save_equals_normalised_dump(tmp_path: Path, iris: Run) -> None:
    """save_model copies arrays entry by entry; the bytes are those of skops' own dump,
    normalised, and the returned digest is theirs."""
    import skops.io as sio

    model = load_model(iris.model)
    digest = save_model(tmp_path / "model.skops", model)
    data = (tmp_path / "model.skops").read_bytes()
    assert data == normalise_archive(sio.dumps(model))
    assert digest == hashlib.sha256(data).hexdigest()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.skops"]
