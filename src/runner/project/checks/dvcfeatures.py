"""The parts of `dvc.yaml` a pipeline can use: loops, vars, params files, top-level
metrics, plots and artifacts, and where a pipeline's params go (`params_file:`).

Each is checked here with its line, so that compile only ever writes a `dvc.yaml`
that DVC reads the way the pipeline file says.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from runner import yamlio
from runner.config.load import PipelineFile, Workspace
from runner.config.models import PLOT_PROPS, CmdStage, StepStage
from runner.errors import Problem, did_you_mean
from runner.project import interp
from runner.project.checks.names import check_name
from runner.project.checks.paths import check_path
from runner.project.graph import norm, out_path
from runner.project.paramsfile import params_files, params_location
from runner.project.sweep import inline_vars, loop_items, path_context
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


def check_features(ws: Workspace, pfile: PipelineFile) -> list[Problem]:
    """Pipeline-level DVC sections: params_file, vars, metrics, plots, params_files,
    artifacts and deploy.path."""
    doc, pipe = pfile.doc, pfile.model
    out: list[Problem] = []
    if pipe.params_file is not None:
        loc: Loc = ("params_file",)
        out += check_path(ws, doc, loc, pipe.params_file)
        if not pipe.params_file.endswith((".yaml", ".yml")):
            out.append(
                doc.problem(
                    loc,
                    f"params_file: '{pipe.params_file}' is not a .yaml file",
                    "compile writes the params as YAML: name a .yaml file, e.g. params.yaml",
                )
            )
        steps = [n for n, s in pipe.stages.items() if isinstance(s, StepStage)]
        if steps:
            out.append(
                doc.problem(
                    loc,
                    f"params_file: built-in steps (stage '{steps[0]}') read their params "
                    "under the pipeline's name in params.yaml",
                    "drop params_file: for a pipeline with step: stages; it is for cmd stages",
                )
            )
        writers = [
            n
            for n, s in pipe.stages.items()
            if isinstance(s, CmdStage)
            and norm(pipe.params_file)
            in {norm(out_path(o)) for g in (s.outs, s.metrics, s.plots) for o in g}
        ]
        if writers:
            out.append(
                doc.problem(
                    loc,
                    f"params_file: stage '{writers[0]}' writes '{pipe.params_file}'",
                    "compile writes the params file; a stage may only read it",
                )
            )
    out += check_vars(ws, pfile, ("vars",), pipe.vars)
    if pipe.vars and params_location(pfile).top_level:
        # DVC reads the params file and vars: into one context, and refuses a key twice.
        clash = sorted(set(vars_values(ws, pfile, None)) & set(pipe.params))
        clash += sorted(set(inline_vars(pipe)) & set(pipe.params))
        if clash:
            out.append(
                doc.problem(
                    ("vars",),
                    f"vars: '{clash[0]}' is also a key of params:, and DVC refuses to "
                    "define it twice",
                    "rename one of them",
                    prefer_key=True,
                )
            )
    for i, path in enumerate(pipe.metrics):
        out += check_path(ws, doc, ("metrics", i), path)
    for i, path in enumerate(pipe.params_files):
        out += check_path(ws, doc, ("params_files", i), path)
    for i, spec in enumerate(pipe.plots):
        if isinstance(spec, str):
            out += check_path(ws, doc, ("plots", i), spec)
            continue
        for key, definition in spec.items():
            files = [key] if definition is None or not isinstance(definition.y, dict) else []
            if definition is not None and isinstance(definition.y, dict):
                files = list(definition.y)
            if definition is not None and isinstance(definition.x, dict):
                files += list(definition.x)
            for file in dict.fromkeys(files):
                out += check_path(ws, doc, ("plots", i, key), file)
    for aname, artifact in pipe.artifacts.items():
        out += check_name(doc, ("artifacts", aname), aname, "artifact name")
        out += check_path(ws, doc, ("artifacts", aname, "path"), artifact.path)
    deploy = pipe.deploy
    if deploy is not None and deploy.path is not None:
        stage = pipe.stages.get(deploy.stage) if deploy.stage else None
        if not isinstance(stage, CmdStage):
            out.append(
                doc.problem(
                    ("deploy", "path"),
                    "deploy.path: names an output of deploy.stage, which must be a cmd stage",
                    "set deploy.stage: to the cmd stage that writes the model",
                )
            )
        else:
            outs = [norm(out_path(o)) for o in stage.outs]
            if norm(deploy.path) not in outs:
                out.append(
                    doc.problem(
                        ("deploy", "path"),
                        f"deploy.path: '{deploy.path}' is not one of the outs of stage "
                        f"'{deploy.stage}'" + did_you_mean(norm(deploy.path), outs),
                        f"outs of '{deploy.stage}': {', '.join(outs) or 'none'}",
                    )
                )
    return out


def check_across_pipelines(ws: Workspace) -> list[Problem]:
    """Params that share a file must not share a key (at the top level of params.yaml,
    a pipeline's name is a key too)."""
    out: list[Problem] = []
    owners: dict[tuple[str, str], str] = {}
    for name, pfile in ws.pipelines.items():
        where = params_location(pfile)
        if not where.top_level and pfile.model.params:
            owners[(where.file, name)] = name
    for name, pfile in ws.pipelines.items():
        where = params_location(pfile)
        if not where.top_level:
            continue
        for key in pfile.model.params:
            other = owners.get((where.file, key))
            if other is not None:
                what = (
                    f"pipeline '{other}' (its params sit under its name)"
                    if other == key and params_location(ws.pipelines[other]).prefix
                    else f"pipeline '{other}'"
                )
                out.append(
                    pfile.doc.problem(
                        ("params", key),
                        f"params.{key}: {where.file} already has the key '{key}' from {what}",
                        "rename the key, or give one of the pipelines its own params_file:",
                        prefer_key=True,
                    )
                )
            else:
                owners[(where.file, key)] = name
    models = {
        pfile.model.deploy.model: name
        for name, pfile in ws.pipelines.items()
        if pfile.model.deploy is not None
    }
    for name, pfile in ws.pipelines.items():
        for aname in pfile.model.artifacts:
            if aname in models:
                out.append(
                    pfile.doc.problem(
                        ("artifacts", aname),
                        f"artifacts.{aname}: is also the model pipeline '{models[aname]}' deploys",
                        "rename the artifact; deploy.model declares its own artifact",
                        prefer_key=True,
                    )
                )
            models.setdefault(aname, name)
    return out
