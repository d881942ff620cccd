"""Plan an import: the files to write, the originals to set aside, what was not carried.

Nothing is written here; `apply` writes the plan all-or-nothing and only then
removes the originals it copied to `.mlops/imported/`. A file that exists
(a pipeline file, a copy from an earlier import, a compiled `dvc.lock`) is
never overwritten without `force`.
"""

from __future__ import annotations

import posixpath
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from runner import yamlio
from runner.compile.generated import GENERATED_MARK
from runner.compile.yamlout import dump
from runner.dvcimport.lock import STAMP_TEXT, carry_lock
from runner.dvcimport.translate import Note, slug, translate
from runner.errors import ConfigError, UsageError
from runner.fsutil import write_all
from runner.layout import (
    PARAMS_FILE,
    PIPELINES_DIR,
    PROJECT_FILE,
    ROOT_DVC_LOCK,
    imported_copy,
    pipeline_dvc_lock,
    pipeline_file,
)
from runner.yamlio import Loc


@dataclass
class ImportPlan:
    writes: list[tuple[str, str]] = field(default_factory=list)  # (path, text)
    moves: list[tuple[str, str]] = field(default_factory=list)  # (original, copy)
    pipelines: list[str] = field(default_factory=list)
    # Stamp files of stages without outputs (the tool's own; rewritten freely).
    stamps: list[str] = field(default_factory=list)
    stages: int = 0
    notes: list[Note] = field(default_factory=list)


def plan_import(
    root: Path, files: list[str], *, name: str | None, top_level: bool, force: bool
) -> ImportPlan:
    """What importing `files` (dvc.yaml paths relative to `root`) writes and moves."""
    if name is not None and len(files) != 1:
        raise UsageError("--name needs exactly one DVC_YAML", "import one dvc.yaml at a time")
    plan = ImportPlan()
    for rel in files:
        rel = posixpath.normpath(rel)
        path = root / rel
        if not path.is_file():
            raise UsageError(
                f"{rel}: no such file",
                "run mlops import in the project root, or name each dvc.yaml to import",
            )
        doc = yamlio.load_file(path, rel)
        if doc.text.startswith(GENERATED_MARK):
            raise UsageError(
                f"{rel} was written by `mlops compile`; there is nothing to import",
                f"change {PIPELINES_DIR}/*.yaml instead, and run `mlops compile`",
            )
        if not isinstance(doc.data, dict) or not isinstance(doc.data.get("stages"), dict):
            raise UsageError(f"{rel}: has no stages: mapping", "name a DVC pipeline file")
        _check_dvc_schema(doc)
        base = posixpath.dirname(rel)
        pname = name or slug(posixpath.basename(base) if base else root.resolve().name)
        params_rel = posixpath.join(base, PARAMS_FILE) if base else PARAMS_FILE
        params = _params(root, params_rel)
        tr = translate(doc, base, pname, params, top_level=top_level)
        text = f"# Imported from {rel} by `mlops import`; now the source of its stages.\n" + dump(
            tr.pipeline
        )
        yamlio.parse(text, pipeline_file(pname))  # what we write must load strictly
        plan.writes.append((pipeline_file(pname), text))
        plan.pipelines.append(pname)
        plan.stages += len(tr.pipeline["stages"])
        plan.notes += tr.notes
        plan.moves.append((rel, imported_copy(rel)))
        if params is not None:
            plan.moves.append((params_rel, imported_copy(params_rel)))
        lock_rel = posixpath.join(base, ROOT_DVC_LOCK) if base else ROOT_DVC_LOCK
        lock = _read_plain(root, lock_rel)
        if isinstance(lock, dict):
            data, stamps = carry_lock(
                lock,
                pname,
                tr.pipeline["stages"],
                tr.stage_names,
                base=base,
                top_level=top_level,
            )
            plan.writes.append((pipeline_dvc_lock(pname), dump(data)))
            plan.writes += [(stamp, STAMP_TEXT) for stamp in stamps]
            plan.stamps += stamps
            plan.moves.append((lock_rel, imported_copy(lock_rel)))
    if not (root / PROJECT_FILE).exists():
        project = slug(root.resolve().name)
        plan.writes.append((PROJECT_FILE, f"version: 1\nproject: {project}\n"))
    _refuse_clashes(root, plan, force=force)
    return plan


def _check_dvc_schema(doc: yamlio.Document) -> None:
    """Refuse, at its line, what DVC itself would refuse in the file (its own schema)."""
    from dvc.schema import MULTI_STAGE_SCHEMA
    from voluptuous import MultipleInvalid, Schema

    try:
        Schema(MULTI_STAGE_SCHEMA)(doc.data)
    except MultipleInvalid as exc:
        problems = []
        for error in exc.errors:
            loc: Loc = tuple(p if isinstance(p, (str, int)) else str(p) for p in error.path)
            while loc and loc not in doc.values and loc not in doc.keys:
                loc = loc[:-1]  # climb to the nearest node that has a mark
            where = ".".join(str(part) for part in error.path) or "top level"
            problems.append(
                doc.problem(
                    loc,
                    f"{where}: {error.msg} (DVC reads this file the same way)",
                    "fix the dvc.yaml so that `dvc stage list` reads it, then import again",
                    prefer_key=True,
                )
            )
        raise ConfigError(problems) from None


def _params(root: Path, rel: str) -> dict[str, Any] | None:
    path = root / rel
    if not path.is_file():
        return None
    doc = yamlio.load_file(path, rel)
    if not isinstance(doc.data, dict):
        raise UsageError(f"{rel}: the top level is not a mapping", "fix the params file")
    return doc.data


def _read_plain(root: Path, rel: str) -> Any:
    try:
        return yamlio.read((root / rel).read_text("utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError, yamlio.YAMLError) as exc:
        raise UsageError(f"{rel}: cannot read it: {exc}", "fix or remove it") from None


def _refuse_clashes(root: Path, plan: ImportPlan, *, force: bool) -> None:
    ours = {PROJECT_FILE, *plan.stamps}
    clashes = [path for path, _ in plan.writes if path not in ours and (root / path).exists()] + [
        copy for _, copy in plan.moves if (root / copy).exists()
    ]
    if clashes and not force:
        raise UsageError(
            f"{clashes[0]} already exists"
            + (f" (and {len(clashes) - 1} more: {', '.join(clashes[1:])})" if clashes[1:] else "")
            + "; import would overwrite it",
            f"move it away, or pass --force to overwrite it (the pipeline files are in "
            f"{PIPELINES_DIR}/)",
        )
    plan.writes = [
        (p, t) for p, t in plan.writes if not (p == PROJECT_FILE and (root / p).exists())
    ]


def apply(root: Path, plan: ImportPlan) -> None:
    """Write the plan: copies of the originals and the new files together, all-or-nothing;
    then remove the originals, whose copies are in place."""
    copies = [(root / copy, (root / original).read_bytes()) for original, copy in plan.moves]
    write_all([*copies, *((root / path, text) for path, text in plan.writes)])
    for original, _ in plan.moves:
        (root / original).unlink()
