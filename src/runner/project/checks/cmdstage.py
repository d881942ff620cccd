"""A custom stage's `${...}`: in the command, the paths and the loop, and its params.

DVC fills every `${...}` in when it reads `dvc.yaml`, from the params file, `vars:`
and a loop's `${item}`/`${key}`; each reference is checked here against the same
values, at its line, and a command value must be one shell word.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from runner import yamlio
from runner.config.load import PipelineFile, Workspace
from runner.config.models import PLOT_PROPS, CmdStage
from runner.errors import Problem, did_you_mean
from runner.project import interp
from runner.project.checks.paths import check_path
from runner.project.graph import norm, out_path
from runner.project.paramsfile import params_files, params_location
from runner.project.sweep import loop_items, path_context
from runner.yamlio import Loc

# What a param may hold to be put on a command line unquoted: one word, no shell syntax.
SHELL_SAFE = re.compile(r"[A-Za-z0-9_@%+=:,./-]+")
_LOCALS = ("item", "key")


def vars_values(ws: Workspace, pfile: PipelineFile, stage: CmdStage | None) -> dict[str, Any]:
    """The values of the params files under `vars:` (pipeline's, then the stage's) that
    can be read; a missing or broken file is reported by `check_vars`."""
    out: dict[str, Any] = {}
    specs = [*pfile.model.vars, *(stage.vars if stage is not None else [])]
    for spec in specs:
        if isinstance(spec, str):
            data = _read_params(ws.root, _vars_file(spec)[0])
            if isinstance(data, dict):
                keys = _vars_file(spec)[1]
                out.update({k: v for k, v in data.items() if not keys or k in keys})
    return out


def _vars_file(spec: str) -> tuple[str, list[str]]:
    """`file` or `file:key,key` (DVC's form) -> (file, keys)."""
    file, _, keys = spec.partition(":")
    return file, [k for k in keys.split(",") if k]


def _read_params(root: Path, rel: str) -> Any:
    try:
        return yamlio.read((root / rel).read_text("utf-8"))
    except (OSError, UnicodeDecodeError, yamlio.YAMLError):
        return None


def command_context(ws: Workspace, pfile: PipelineFile, stage: CmdStage) -> dict[str, Any]:
    """What `${...}` in a custom stage may name: vars files, inline vars, then params."""
    return {**vars_values(ws, pfile, stage), **path_context(pfile.model, stage)}


def _shown(value: Any) -> str:
    if isinstance(value, (Mapping, list)):
        return "a mapping or list"
    return "an empty string" if not value else f"{value!r} (spaces or shell syntax)"


def check_command(ws: Workspace, pfile: PipelineFile, sname: str, stage: CmdStage) -> list[Problem]:
    """`${...}` in the command, the paths and the loop of a custom stage, and its params."""
    doc, pipe = pfile.doc, pfile.model
    loc: Loc = ("stages", sname)
    context = command_context(ws, pfile, stage)
    out: list[Problem] = []
    iterations: list[dict[str, Any]] = [{}]
    if stage.foreach is not None or stage.matrix is not None:
        kind = "foreach" if stage.foreach is not None else "matrix"
        clash = [name for name in _LOCALS if name in context]
        if clash:
            out.append(
                doc.problem(
                    (*loc, kind),
                    f"stages.{sname}.{kind}: '{clash[0]}' is a param, and DVC's loop "
                    f"defines ${{{clash[0]}}} itself",
                    "rename the param; inside a loop ${item} and ${key} are the loop's",
                    prefer_key=True,
                )
            )
        try:
            iterations = [local for _, local in loop_items(stage, context)]
        except interp.RefError as exc:
            return [
                doc.problem(
                    (*loc, kind),
                    f"stages.{sname}.{kind}: {exc}",
                    "loop over a list or mapping, written inline or as one ${...} reference "
                    "to a param that holds one",
                )
            ]
        if not iterations:
            out.append(
                doc.problem(
                    (*loc, kind),
                    f"stages.{sname}.{kind}: the loop has no items, so DVC would run nothing",
                    "give at least one item",
                )
            )
        if not (stage.outs or stage.metrics or stage.plots):
            out.append(
                doc.problem(
                    (*loc, kind),
                    f"stages.{sname}.{kind}: a loop stage needs outs:, metrics: or plots:",
                    "declare what each copy writes (e.g. outs: [out/${item}.json]), so that "
                    "`dvc repro` reaches every copy",
                    prefer_key=True,
                )
            )
    seen: set[str] = set()
    texts = stage.cmd if isinstance(stage.cmd, list) else [stage.cmd]
    for local in iterations:
        scope = {**context, **local}
        for ref in dict.fromkeys(r for text in texts for r in interp.refs(text)):
            try:
                value = interp.lookup(scope, ref)
            except interp.RefError as exc:
                if ref not in seen:
                    seen.add(ref)
                    out.append(
                        doc.problem(
                            (*loc, "cmd"),
                            f"stages.{sname}.cmd: reference {exc}",
                            "references name this pipeline's params:, a vars: file or value, "
                            "or ${item}/${key} in a loop",
                        )
                    )
                continue
            if ref not in seen and (
                isinstance(value, (Mapping, list))
                or (isinstance(value, str) and not SHELL_SAFE.fullmatch(value))
            ):
                # DVC fills `${...}` in at run time and puts the value on the command line as is.
                seen.add(ref)
                out.append(
                    doc.problem(
                        (*loc, "cmd"),
                        f"stages.{sname}.cmd: ${{{ref}}} is {_shown(value)}, which DVC would "
                        "put on the command line unquoted",
                        f"list {ref} under params: and have the command read it from "
                        f"{params_location(pfile).file}",
                    )
                )
    out += _check_paths(ws, pfile, sname, stage, [{**context, **local} for local in iterations])
    out += _check_stage_params(ws, pfile, sname, stage)
    out += check_vars(ws, pfile, (*loc, "vars"), stage.vars)
    if stage.meta.get("source") is not None:
        out.append(
            doc.problem(
                (*loc, "meta", "source"),
                f"stages.{sname}.meta.source: compile writes this key (the stage's file and line)",
                "name your key differently",
                prefer_key=True,
            )
        )
    if (stage.foreach is not None or stage.matrix is not None) and pipe.sweep:
        out.append(
            doc.problem(
                (*loc, "foreach" if stage.foreach is not None else "matrix"),
                f"stages.{sname}: a loop stage cannot be part of a pipeline with sweep:",
                "use one or the other: sweep: for built-in steps, foreach:/matrix: for commands",
                prefer_key=True,
            )
        )
    return out


def _check_paths(
    ws: Workspace, pfile: PipelineFile, sname: str, stage: CmdStage, scopes: list[dict[str, Any]]
) -> list[Problem]:
    """Paths may use `${...}` of params, inline vars and the loop: DVC fills them in when
    it reads dvc.yaml, and so does the stage graph."""
    doc = pfile.doc
    loc: Loc = ("stages", sname)
    out: list[Problem] = []
    groups: list[tuple[str, list[Any]]] = [
        ("deps", stage.deps),
        ("outs", stage.outs),
        ("metrics", stage.metrics),
        ("plots", stage.plots),
    ]
    for group, specs in groups:
        for i, spec in enumerate(specs):
            item_loc: Loc = (*loc, group, i)
            if isinstance(spec, dict) and len(spec) != 1:
                continue  # reported with the output rules
            path = out_path(spec)
            path_loc = item_loc if isinstance(spec, str) else (*item_loc, path)
            checked: set[str] = set()
            for scope in scopes:
                try:
                    filled = interp.fill(path, scope)
                except interp.RefError as exc:
                    out.append(doc.problem(path_loc, f"stages.{sname}.{group}[{i}]: {exc}", None))
                    break
                if "${" in filled:
                    out.append(
                        doc.problem(
                            path_loc,
                            f"stages.{sname}.{group}[{i}]: path '{path}' holds a ${{...}} "
                            "that names no param, inline var or loop value",
                            "paths may use this pipeline's params:, values under vars:, "
                            "and ${item}/${key} in a loop; a vars: file is read only by DVC",
                        )
                    )
                    break
                if filled not in checked:
                    checked.add(filled)
                    if filled != path:
                        out += check_path(ws, doc, path_loc, filled)
            if isinstance(spec, dict):
                flags = spec[path]
                plot_props = [k for k in PLOT_PROPS if getattr(flags, k) is not None]
                if plot_props and group != "plots":
                    out.append(
                        doc.problem(
                            (*item_loc, path, plot_props[0]),
                            f"stages.{sname}.{group}[{i}]: {plot_props[0]}: is only for plots",
                            "move the file under plots:, or drop the plot properties",
                            prefer_key=True,
                        )
                    )
    return out


def _check_stage_params(
    ws: Workspace, pfile: PipelineFile, sname: str, stage: CmdStage
) -> list[Problem]:
    doc, params = pfile.doc, pfile.model.params
    loc: Loc = ("stages", sname, "params")
    out: list[Problem] = []
    compiled = params_files(ws)
    for i, spec in enumerate(stage.params):
        if isinstance(spec, str):
            try:
                interp.lookup(params, spec)
            except interp.RefError as exc:
                out.append(
                    doc.problem(
                        (*loc, i),
                        f"stages.{sname}.params: '{spec}' is not in this pipeline's params "
                        f"({exc.reason})",
                        "list keys of params:, e.g. train.max_depth, or a file's keys as "
                        "{configs/train.yaml: [train]}",
                    )
                )
            continue
        if len(spec) != 1:
            out.append(
                doc.problem(
                    (*loc, i),
                    f"stages.{sname}.params[{i}]: give one params file per entry",
                    "write `- configs/train.yaml: [train, seed]`",
                )
            )
            continue
        file, keys = next(iter(spec.items()))
        file_loc: Loc = (*loc, i, file)
        bad = check_path(ws, doc, file_loc, file)
        if bad:
            out += bad
            continue
        data = compiled.get(norm(file))
        if data is None:
            data = _read_params(ws.root, file)
            if data is None:
                out.append(
                    doc.problem(
                        file_loc,
                        f"stages.{sname}.params[{i}]: params file '{file}' is missing or is "
                        "not YAML",
                        "give a YAML or JSON params file the team keeps in the repository",
                        prefer_key=True,
                    )
                )
                continue
        for j, key in enumerate(keys or []):
            try:
                interp.lookup(data if isinstance(data, dict) else {}, key)
            except interp.RefError as exc:
                out.append(
                    doc.problem(
                        (*file_loc, j),
                        f"stages.{sname}.params[{i}]: '{key}' is not in {file} ({exc.reason})",
                        f"list keys that {file} holds",
                    )
                )
    return out


def check_vars(ws: Workspace, pfile: PipelineFile, loc: Loc, specs: list[Any]) -> list[Problem]:
    doc = pfile.doc
    out: list[Problem] = []
    for i, spec in enumerate(specs):
        if not isinstance(spec, str):
            continue
        file, keys = _vars_file(spec)
        bad = check_path(ws, doc, (*loc, i), file)
        if bad:
            out += bad
            continue
        data = _read_params(ws.root, file)
        if not isinstance(data, dict):
            out.append(
                doc.problem(
                    (*loc, i),
                    f"{yamlio.format_loc(loc)}[{i}]: '{file}' is missing or is not a YAML mapping",
                    "vars: names params files the team keeps (YAML or JSON), or gives values "
                    "inline",
                )
            )
            continue
        missing = [k for k in keys if k not in data]
        if missing:
            out.append(
                doc.problem(
                    (*loc, i),
                    f"{yamlio.format_loc(loc)}[{i}]: '{file}' has no key '{missing[0]}'"
                    + did_you_mean(missing[0], list(data)),
                    f"keys of {file}: {', '.join(map(str, data))}",
                )
            )
    return out
