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
import shutil
import zipfile
import zlib
from pathlib import Path
from typing import IO, Any

from runner.fsutil import sha256_fd, sha256_file
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
_COPY_BLOCK = 1 << 20


def save_model(path: Path, model: Any) -> str:
    """Write `model` to `path` as a reproducible skops file; return its sha256.

    The arrays go to a temporary archive beside `path` and are copied entry by
    entry into the normalised one, so no copy of the whole model is ever held
    in memory. A model that would not load back is refused before anything is
    written at `path`.
    """
    import skops
    import skops.io
    from skops.io._utils import SaveContext, get_state

    raw = path.with_name(f".{path.name}.raw")
    try:
        with zipfile.ZipFile(raw, "w", compression=_ZIP_COMPRESSION) as target:
            context = SaveContext(zip_file=target)
            state = get_state(model, context)
            context.clear_memo()
        state["protocol"] = context.protocol
        state["_skops_version"] = skops.__version__
        # The JSON round trip gives the schema exactly as skops would have written it.
        schema = json.loads(json.dumps(state))
        _refuse_untrusted(schema)
        with zipfile.ZipFile(raw) as source, path.open("wb") as sink:
            _write_normalised(source, schema, sink)
    finally:
        raw.unlink(missing_ok=True)
    return sha256_file(path)


def _refuse_untrusted(schema: dict[str, Any]) -> None:
    """Refuse a schema with types that `load_model` would refuse, without reading arrays."""
    refused = _refused_types(sorted(_tree(schema, _NoArrays()).get_unsafe_set()))
    if refused:
        raise StepError(
            "the model needs types outside scikit-learn, numpy and scipy: " + ", ".join(refused),
            hint="use a scikit-learn estimator; other types are refused when the model is loaded",
        )


class _NoArrays:
    """A stand-in for the archive when only the types of a schema are wanted: skops reads
    each array's bytes while building its tree, and the audit never looks at them."""

    def read(self, name: str) -> bytes:
        return b""


class _Deferred:
    """The archive as `load_model` shows it to skops' tree builder: reading a member
    returns a short token naming it, not its bytes (skops would otherwise hold every
    array's bytes in memory from the audit to the end of the load: a third copy of
    the model, 2 GB of a 2 GB forest). `_attach` gives the bytes back after the audit."""

    PREFIX = b"\0mlops-deferred\0"

    def __init__(self, archive: zipfile.ZipFile) -> None:
        self.archive = archive

    def read(self, name: str) -> bytes:
        self.archive.getinfo(name)  # a missing member is a broken file, as when read
        return self.PREFIX + name.encode("utf-8")

    @classmethod
    def member(cls, value: Any) -> str | None:
        """The member a token BytesIO stands for; None for anything else."""
        if isinstance(value, io.BytesIO):
            data = value.getbuffer()
            try:
                if data[: len(cls.PREFIX)] == cls.PREFIX:
                    return bytes(data[len(cls.PREFIX) :]).decode("utf-8")
            finally:
                data.release()
        return None


def _attach(node: Any, archive: zipfile.ZipFile, opened: list[IO[bytes]]) -> None:
    """Give every node of the audited tree its members' bytes back.

    A numpy array reads its member straight from the archive while it is built
    (numpy reads a file object in small blocks), so no array is ever held twice
    over; anything else gets its bytes in place, as skops itself would have read
    them. Files opened here are appended to `opened` for the caller to close.
    """
    from skops.io._audit import Node

    pending, seen = [node], set()
    while pending:
        item = pending.pop()
        if isinstance(item, (list, tuple)):
            pending.extend(item)
            continue
        if isinstance(item, dict):
            pending.extend(item.values())
            continue
        if not isinstance(item, Node) or id(item) in seen:
            continue
        seen.add(id(item))
        for attr, value in list(vars(item).items()):
            name = _Deferred.member(value)
            if name is None:
                if isinstance(value, (Node, list, tuple, dict)):
                    pending.append(value)
                continue
            if attr == "buffer" and getattr(item, "type", None) == "numpy":
                reader = archive.open(name)
                opened.append(reader)
                setattr(item, attr, reader)
            else:
                value.seek(0)
                value.truncate()
                value.write(archive.read(name))
                value.seek(0)


def _tree(schema: dict[str, Any], src: Any) -> Any:
    """skops' tree of `schema` (the same tree `skops.io.load` audits, then constructs)."""
    import skops.io  # noqa: F401  (registers the node types)
    from skops.io._audit import get_tree
    from skops.io._utils import LoadContext

    return get_tree(schema, LoadContext(src=src, protocol=schema["protocol"]), trusted=None)


def normalise_archive(data: bytes) -> bytes:
    """Rewrite a skops zip so that it depends only on the model, not on the run."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as source:
        schema = json.loads(source.read("schema.json"))
        _write_normalised(source, schema, out)
    return out.getvalue()


def _write_normalised(source: zipfile.ZipFile, schema: dict[str, Any], sink: IO[bytes]) -> None:
    """Write the entries of `source` with `schema` renumbered to `sink`, one entry at a time."""
    ids: dict[int, int] = {}
    files: dict[str, str] = {}
    _renumber(schema, ids, files)
    renamed = {new: old for old, new in files.items()}
    # skops writes the schema with indent=2; keep that form.
    text = json.dumps(schema, indent=2).encode("utf-8")
    with zipfile.ZipFile(sink, "w") as target:
        for name in sorted([*renamed, "schema.json"]):
            info = zipfile.ZipInfo(name, date_time=_ZIP_DATE)
            info.compress_type = _ZIP_COMPRESSION
            info.create_system = 3
            info.external_attr = 0o644 << 16
            if name == "schema.json":
                target.writestr(info, text)
                continue
            old = source.getinfo(renamed[name])
            info.file_size = old.file_size
            with source.open(old) as reader, target.open(info, "w") as writer:
                shutil.copyfileobj(reader, writer, _COPY_BLOCK)


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


def digest_line(digest: str) -> str:
    """The `sha256sum` line for the model file."""
    return f"{digest}  {MODEL_FILE}\n"


def write_model_files(
    directory: Path, model: Any, meta: dict[str, Any], profile: dict[str, Any]
) -> None:
    """Write the four files of a model directory into `directory` (a fresh folder that
    `files.replace_dir` moves into place, so nothing is visible half-written)."""
    digest = save_model(directory / MODEL_FILE, model)
    write_bytes(directory / DIGEST_FILE, digest_line(digest).encode("ascii"))
    write_bytes(directory / META_FILE, dumps_json(meta).encode("utf-8"))
    write_bytes(directory / PROFILE_FILE, dumps_json(profile).encode("utf-8"))


def load_model(model_dir: Path) -> Any:
    """Load a trained model after verifying its checksum and the types it contains.

    Only types from scikit-learn, numpy and scipy are trusted; anything else is
    refused with a StepError before a single object is constructed. The file is
    opened once: the bytes that are hashed are the bytes that are loaded. The hash
    is computed on a second thread while the trusted types are built (0.25 s of a
    437 MB forest), and a model whose file does not match it is refused, not
    returned. Each array is read from the file as it is built (`_Deferred`): the
    load holds at most two copies of the arrays (numpy's and scikit-learn's), not
    three (skops alone reads every member's bytes before building anything).
    """
    from concurrent.futures import ThreadPoolExecutor

    from skops.io._utils import read_schema

    model_dir = Path(model_dir)
    require_dir(model_dir, "model")
    model_path = model_dir / MODEL_FILE
    digest_path = model_dir / DIGEST_FILE
    for path in (model_path, digest_path):
        if not path.is_file():
            raise StepError(
                f"model directory has no {path.name}: {model_dir}",
                hint="re-run the train stage (dvc repro)",
            )
    recorded = digest_path.read_text(encoding="ascii", errors="replace").split()
    with model_path.open("rb") as fh, ThreadPoolExecutor(max_workers=1) as pool:
        digest = pool.submit(sha256_fd, fh.fileno())

        def matches() -> None:
            if not recorded or recorded[0].lower() != digest.result():
                raise StepError(
                    f"{model_path} does not match its checksum in {DIGEST_FILE}",
                    hint="the model file was changed after training; "
                    "re-run the train stage (dvc repro)",
                )

        try:
            archive = zipfile.ZipFile(fh)
        except zipfile.BadZipFile as exc:
            matches()  # a changed file is that, before it is a broken one
            raise _not_skops(model_path, exc) from exc
        with archive:
            try:
                schema, _ = read_schema(archive)
                tree = _tree(schema, _Deferred(archive))
            except (zipfile.BadZipFile, KeyError, ValueError, TypeError) as exc:
                matches()
                raise _not_skops(model_path, exc) from exc
            refused = _refused_types(sorted(tree.get_unsafe_set()))
            if refused:
                matches()
                raise StepError(
                    f"refusing to load {model_path}: untrusted types " + ", ".join(refused),
                    hint="only scikit-learn, numpy and scipy types are loaded; "
                    "retrain with the train step",
                )
            # What skops.io.load does after its audit; the audit above is stricter.
            opened: list[IO[bytes]] = []
            try:
                _attach(tree, archive, opened)
                model = tree.construct()
            except (zipfile.BadZipFile, zlib.error) as exc:  # a member that fails its CRC
                matches()
                raise _not_skops(model_path, exc) from exc
            except Exception:
                matches()  # a changed file gets its own error, whatever broke in it
                raise
            finally:
                for reader in opened:
                    reader.close()
        matches()
    return model


def _not_skops(path: Path, exc: BaseException) -> StepError:
    return StepError(
        f"{path} is not a valid skops file ({first_line(exc)})",
        hint="re-run the train stage (dvc repro)",
    )


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
