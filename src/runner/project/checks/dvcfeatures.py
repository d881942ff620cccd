"""The parts of `dvc.yaml` a pipeline can use beyond its stages: where its params go
(`params_file:`), `vars:`, top-level metrics, plots and params files, artifacts and
`deploy.path`, and the keys pipelines must not share. (A custom stage's own
`${...}`, loops and params are checked in `cmdstage`.)
"""

from __future__ import annotations

from runner.config.load import PipelineFile, Workspace
from runner.config.models import CmdStage, StepStage
from runner.errors import Problem, did_you_mean
from runner.project.checks.cmdstage import check_vars, vars_values
from runner.project.checks.names import check_name
from runner.project.checks.paths import check_path
from runner.project.graph import norm, out_path
from runner.project.paramsfile import params_location
from runner.project.sweep import inline_vars
from runner.yamlio import Loc


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
