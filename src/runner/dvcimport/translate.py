"""One hand-written `dvc.yaml` -> the data of one `pipelines/<name>.yaml`.

Pure: it takes the parsed files and returns the pipeline as plain data plus a
note for every key it could not carry. Paths are made relative to the project
root (a `dvc.yaml` in a sub-folder, or a stage `wdir`, prefixes them).
"""

from __future__ import annotations

import posixpath
import re
from dataclasses import dataclass, field
from typing import Any

from runner.config.models import PLOT_PROPS
from runner.layout import PARAMS_FILE
from runner.project.checks.names import name_problem
from runner.yamlio import Document, Loc

# Output flags the pipeline files take, as DVC spells them.
OUT_FLAGS = ("cache", "persist", "push", "desc", "remote", "type", "labels", "meta", *PLOT_PROPS)
STAGE_KEYS = (
    "cmd",
    "wdir",
    "deps",
    "outs",
    "metrics",
    "plots",
    "params",
    "frozen",
    "always_changed",
    "desc",
    "meta",
    "vars",
    "foreach",
    "do",
    "matrix",
)
ARTIFACT_KEYS = ("path", "type", "desc", "labels", "meta")


@dataclass(frozen=True)
class Note:
    """A key of the DVC file that the pipeline file does not carry, or carries changed."""

    file: str
    line: int | None
    key: str
    why: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        return f"{where}: {self.key}: {self.why}"


@dataclass
class Translation:
    name: str
    pipeline: dict[str, Any]
    # Original stage name -> the pipeline's stage name (they differ when renamed).
    stage_names: dict[str, str] = field(default_factory=dict)
    notes: list[Note] = field(default_factory=list)


def slug(text: str) -> str:
    """A safe pipeline or stage name made from `text` (`Train Model` -> `train-model`)."""
    out = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
    if not out or not out[0].isalpha():
        out = f"p-{out}" if out else "main"
    return out[:63].rstrip("-")


class _Translator:
    def __init__(self, doc: Document, base: str, params: dict[str, Any] | None) -> None:
        self.doc = doc
        self.base = base  # the dvc.yaml's folder, relative to the project root ("" at the root)
        self.params = params  # the default params file's values, when it exists
        self.notes: list[Note] = []

    def note(self, loc: Loc, why: str) -> None:
        mark = self.doc.keys.get(loc) or self.doc.values.get(loc)
        key = ".".join(str(part) for part in loc)
        self.notes.append(Note(self.doc.path, mark.line if mark else None, key, why))

    def path(self, wdir: str, path: str) -> str:
        joined = posixpath.join(self.base, wdir, path) if (self.base or wdir != ".") else path
        return posixpath.normpath(joined)

    # ---------------------------------------------------------------- stages

    def stage(self, loc: Loc, body: dict[str, Any]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key in body:
            if key not in STAGE_KEYS:
                self.note((*loc, key), "DVC key not carried (the pipeline files have no such key)")
        if "foreach" in body:
            out["foreach"] = body["foreach"]
            do = body.get("do")
            if not isinstance(do, dict):
                self.note((*loc, "foreach"), "foreach: without a do: mapping; not carried")
                return out
            out.update(self.stage((*loc, "do"), do))
            return out
        if "matrix" in body:
            out["matrix"] = body["matrix"]
        wdir = body.get("wdir", ".")
        if not isinstance(wdir, str):
            wdir = "."
        prefix = posixpath.normpath(posixpath.join(self.base, wdir))
        cmd = body.get("cmd")
        if prefix != "." and cmd is not None:
            # Compiled stages run at the project root.
            cmds = cmd if isinstance(cmd, list) else [cmd]
            cmd = [f"cd {prefix} && {c}" for c in cmds]
            cmd = cmd[0] if len(cmd) == 1 else cmd
            self.note(
                (*loc, "wdir") if "wdir" in body else (*loc, "cmd"),
                f"the command now starts with `cd {prefix} &&` (compiled stages run at the "
                "project root), so DVC runs the stage once more",
            )
        if cmd is not None:
            out["cmd"] = cmd
        if body.get("deps"):
            out["deps"] = [self.path(wdir, d) for d in body["deps"]]
        params = self.stage_params((*loc, "params"), wdir, body.get("params") or [])
        if params:
            out["params"] = params
        for group in ("outs", "metrics", "plots"):
            specs = [
                self.out((*loc, group, i), wdir, s) for i, s in enumerate(body.get(group) or [])
            ]
            if specs:
                out[group] = specs
        for key in ("frozen", "always_changed"):
            if body.get(key):
                out[key] = body[key]
        if body.get("desc"):
            out["desc"] = body["desc"]
        meta = body.get("meta")
        if isinstance(meta, dict) and meta:
            kept = {k: v for k, v in meta.items() if k != "source"}
            if len(kept) != len(meta):
                self.note((*loc, "meta", "source"), "compile writes meta.source; not carried")
            if kept:
                out["meta"] = kept
        if body.get("vars"):
            out["vars"] = [self.path(wdir, v) if isinstance(v, str) else v for v in body["vars"]]
        return out

    def out(self, loc: Loc, wdir: str, spec: Any) -> Any:
        if isinstance(spec, str):
            return self.path(wdir, spec)
        path, flags = next(iter(spec.items()))
        kept: dict[str, Any] = {}
        for key, value in (flags or {}).items():
            if key in OUT_FLAGS:
                kept[key] = value
            else:
                self.note((*loc, path, key), "output flag not carried")
        return {self.path(wdir, path): kept} if kept else self.path(wdir, path)

    def stage_params(self, loc: Loc, wdir: str, specs: list[Any]) -> list[Any]:
        """Keys of the default params file become keys of the pipeline's params; other
        files stay the team's, listed as `{file: [keys]}`."""
        default = self.path(wdir, PARAMS_FILE)
        own = posixpath.normpath(posixpath.join(self.base, PARAMS_FILE))
        out: list[Any] = []
        for i, spec in enumerate(specs):
            if isinstance(spec, str):
                if default == own:
                    out.append(spec)
                else:
                    out.append({default: [spec]})
                continue
            for file, keys in spec.items():
                path = self.path(wdir, file)
                if keys is not None and not isinstance(keys, list):
                    self.note((*loc, i, file), "keys must be a list; not carried")
                    continue
                if path == own and self.params is not None:
                    out += list(keys) if keys else list(self.params)
                else:
                    out.append({path: keys})
                if posixpath.splitext(path)[1] not in (".yaml", ".yml", ".json"):
                    self.note((*loc, i, file), "only YAML and JSON params files are checked")
        return out


def translate(
    doc: Document, base: str, name: str, params: dict[str, Any] | None, *, top_level: bool
) -> Translation:
    """The pipeline for `doc` (a `dvc.yaml` in folder `base`), with `params` (the values of
    the `params.yaml` beside it, or None) as its params."""
    tr = _Translator(doc, base, params)
    data = doc.data if isinstance(doc.data, dict) else {}
    pipeline: dict[str, Any] = {"description": f"Imported from {doc.path} by mlops import"}
    if params:
        if top_level:
            pipeline["params_file"] = posixpath.normpath(posixpath.join(base, PARAMS_FILE))
        pipeline["params"] = params
    result = Translation(name, pipeline)
    for key in data:
        if key not in ("stages", "vars", "metrics", "plots", "params", "artifacts"):
            tr.note((key,), "top-level DVC section not carried")
    top_vars = []
    for i, spec in enumerate(data.get("vars") or []):
        if isinstance(spec, str):
            file = spec.partition(":")[0]
            if posixpath.normpath(posixpath.join(base, file)) == posixpath.normpath(
                posixpath.join(base, PARAMS_FILE)
            ):
                continue  # the pipeline's own params, always available to ${...}
            top_vars.append(tr.path(".", spec))
        else:
            top_vars.append(spec)
        del i
    if top_vars:
        pipeline["vars"] = top_vars
    stages: dict[str, Any] = {}
    for sname, body in (data.get("stages") or {}).items():
        new = sname if name_problem(sname) is None else slug(sname)
        if new != sname:
            tr.note(("stages", sname), f"renamed to '{new}' (stage names are lowercase words)")
        if new in stages:
            tr.note(("stages", sname), f"'{new}' is taken by another stage; not carried")
            continue
        result.stage_names[sname] = new
        if not isinstance(body, dict):
            tr.note(("stages", sname), "not a mapping; not carried")
            continue
        stages[new] = tr.stage(("stages", sname), body)
    pipeline["stages"] = stages
    if data.get("metrics"):
        pipeline["metrics"] = [tr.path(".", m) for m in data["metrics"]]
    if data.get("plots"):
        pipeline["plots"] = [_top_plot(tr, p) for p in data["plots"]]
    if data.get("params"):
        pipeline["params_files"] = [tr.path(".", p) for p in data["params"]]
    artifacts = {}
    for aname, spec in (data.get("artifacts") or {}).items():
        kept = {k: v for k, v in (spec or {}).items() if k in ARTIFACT_KEYS}
        for key in set(spec or {}) - set(kept):
            tr.note(("artifacts", aname, key), "artifact key not carried")
        if "path" in kept:
            kept["path"] = tr.path(".", kept["path"])
        artifacts[aname] = kept
    if artifacts:
        pipeline["artifacts"] = artifacts
    result.notes = tr.notes
    return result


def _top_plot(tr: _Translator, spec: Any) -> Any:
    if isinstance(spec, str):
        return tr.path(".", spec)
    out = {}
    for key, props in spec.items():
        props = dict(props or {})
        for axis in ("x", "y"):
            if isinstance(props.get(axis), dict):
                props[axis] = {tr.path(".", f): v for f, v in props[axis].items()}
        # An id with y: {file: field} names no file itself; a bare id is a path.
        is_path = not isinstance(props.get("y"), dict)
        out[tr.path(".", key) if is_path else key] = props or None
    return out
