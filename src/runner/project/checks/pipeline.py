"""One pipeline file: stage names and needs, steps, commands, params and references."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from pydantic import ValidationError

from runner.config.load import PipelineFile, Workspace
from runner.config.models import CmdStage, StepStage
from runner.config.step_options import SKLEARN_DATASETS
from runner.config.steps import STEPS
from runner.errors import Problem, did_you_mean
from runner.project import interp
from runner.project.checks.cmdstage import check_command
from runner.project.checks.dvcfeatures import check_features
from runner.project.checks.dvclive import check_dvclive
from runner.project.checks.gates import check_deploy, check_gates
from runner.project.checks.monitor import check_monitor
from runner.project.checks.names import NAME_HINT, PARAM_KEY, check_name, name_problem
from runner.project.checks.paths import check_path, out_problem
from runner.project.checks.sweep import check_sweep
from runner.project.graph import norm, out_path
from runner.project.sweep import affected, variants, with_overrides
from runner.yamlio import Document, Loc


def check_pipeline(ws: Workspace, pfile: PipelineFile) -> list[Problem]:
    """Problems in one pipeline file, its sweep, gates and deploy included."""
    doc, pipe = pfile.doc, pfile.model
    out: list[Problem] = []
    why = name_problem(pfile.name)
    if why:
        out.append(
            doc.problem_at(
                None, None, f"pipeline name '{pfile.name}' (from the file name) {why}", NAME_HINT
            )
        )
    out += _check_param_keys(doc, pipe.params, ("params",))
    stages = pipe.stages
    for sname, stage in stages.items():
        loc: Loc = ("stages", sname)
        out += check_name(doc, loc, sname, "stage name")
        for i, need in enumerate(stage.needs):
            if need == sname:
                out.append(
                    doc.problem(
                        (*loc, "needs", i),
                        f"stages.{sname}.needs: a stage cannot need itself",
                        "remove it from needs:",
                    )
                )
            elif need not in stages:
                out.append(
                    doc.problem(
                        (*loc, "needs", i),
                        f"stages.{sname}.needs: no stage named '{need}'"
                        + did_you_mean(need, list(stages)),
                        f"stages in this pipeline: {', '.join(stages)}",
                    )
                )
        if isinstance(stage, StepStage):
            out += _check_step(ws, doc, pipe.params, sname, stage)
        else:
            out += _check_cmd(ws, doc, pipe.params, pfile.name, sname, stage)
        if stage.desc is not None:
            out += _no_interpolation(doc, (*loc, "desc"), f"stages.{sname}.desc", stage.desc)
    if pipe.description is not None:
        out += _no_interpolation(doc, ("description",), "description", pipe.description)
    sweep_problems = check_sweep(pfile)
    out += sweep_problems
    if pipe.sweep and not sweep_problems and not out:
        # Options must be valid at every point of the grid, not only at the defaults.
        seen = {(p.line, p.message) for p in out}
        for variant in variants(pipe.sweep):
            params = with_overrides(pipe.params, variant.values)
            for sname in affected(pipe):
                stage = stages[sname]
                assert isinstance(stage, StepStage)
                for problem in _check_step(ws, doc, params, sname, stage):
                    if (problem.line, problem.message) not in seen:
                        seen.add((problem.line, problem.message))
                        out.append(
                            replace(problem, message=f"{problem.message} (variant {variant.name})")
                        )
    out += check_gates(ws, pfile)
    out += check_deploy(ws, pfile)
    out += check_features(ws, pfile)
    out += check_dvclive(ws, pfile)
    out += check_monitor(pfile)
    return out


def _check_param_keys(doc: Document, params: Any, loc: Loc) -> list[Problem]:
    out: list[Problem] = []
    if isinstance(params, dict):
        for key, value in params.items():
            if not PARAM_KEY.fullmatch(key):
                out.append(
                    doc.problem(
                        (*loc, key),
                        f"{'.'.join(map(str, loc))}: param name '{key}' is not an identifier",
                        "use letters, digits and '_' so `dvc exp run -S pipeline.key=value` "
                        "can address it",
                        prefer_key=True,
                    )
                )
            out += _check_param_keys(doc, value, (*loc, key))
    return out


def _check_refs(
    doc: Document, params: Mapping[str, Any], value: Any, loc: Loc
) -> tuple[list[Problem], Any]:
    """Resolve `${...}` in `value`; problems for references that do not resolve."""
    try:
        return [], interp.resolve(value, params)
    except interp.RefError as exc:
        return [
            doc.problem(
                _ref_loc(doc, value, loc, exc.ref),
                f"{'.'.join(map(str, loc))}: reference ${{{exc.ref}}}: {exc.reason}",
                "references point into this pipeline's params:, e.g. ${train.max_depth}",
            )
        ], None


def _ref_loc(doc: Document, value: Any, loc: Loc, ref: str) -> Loc:
    """The deepest location under `loc` whose string holds `${ref}`."""
    if isinstance(value, dict):
        for key, item in value.items():
            if ref in list(interp.refs(item)):
                return _ref_loc(doc, item, (*loc, key), ref)
    if isinstance(value, list):
        for i, item in enumerate(value):
            if ref in list(interp.refs(item)):
                return _ref_loc(doc, item, (*loc, i), ref)
    return loc


def _check_step(
    ws: Workspace, doc: Document, params: Mapping[str, Any], sname: str, stage: StepStage
) -> list[Problem]:
    loc: Loc = ("stages", sname)
    spec = STEPS.get(stage.step)
    if spec is None:
        return [
            doc.problem(
                (*loc, "step"),
                f"stages.{sname}.step: unknown step '{stage.step}'"
                + did_you_mean(stage.step, list(STEPS)),
                f"built-in steps: {', '.join(STEPS)}; or use cmd: for a custom command",
            )
        ]
    out, resolved = _check_refs(doc, params, stage.with_, (*loc, "with"))
    if out:
        return out
    try:
        options = spec.options.model_validate(resolved)
    except ValidationError as exc:
        from runner.config.diagnose import problems_from

        return problems_from(exc, spec.options, doc, data=stage.with_, prefix=(*loc, "with"))
    source = getattr(options, "source", None)
    if isinstance(source, str):
        src_loc = (*loc, "with", "source")
        if source.startswith("sklearn:"):
            name = source.removeprefix("sklearn:")
            if name not in SKLEARN_DATASETS:
                out.append(
                    doc.problem(
                        src_loc,
                        f"stages.{sname}.with.source: unknown scikit-learn dataset '{name}'"
                        + did_you_mean(name, SKLEARN_DATASETS),
                        f"bundled datasets: {', '.join('sklearn:' + d for d in SKLEARN_DATASETS)}",
                    )
                )
        else:
            out += check_path(ws, doc, src_loc, source)
            if not source.endswith((".csv", ".parquet")):
                out.append(
                    doc.problem(
                        src_loc,
                        f"stages.{sname}.with.source: '{source}' is neither .csv nor .parquet",
                        "give a CSV or parquet file, or sklearn:<dataset>",
                    )
                )
    return out


# DVC's own pattern for `${...}` (dvc/parsing/interpolate.py): it fills in any such
# text in dvc.yaml, and fails every command when the name is unknown.
_DVC_INTERPOLATION = re.compile(r"\$\{[^${}]*\}")


def _no_interpolation(doc: Document, loc: Loc, where: str, text: str) -> list[Problem]:
    found = _DVC_INTERPOLATION.search(text)
    if found is None:
        return []
    return [
        doc.problem(
            loc,
            f"{where}: '{found.group()}' would be read by DVC as a reference, "
            "and every DVC command would fail",
            "write it without '${', e.g. '$ {x}' or 'x'; descriptions are plain text",
        )
    ]


def _check_cmd(
    ws: Workspace,
    doc: Document,
    params: Mapping[str, Any],
    pfile_name: str,
    sname: str,
    stage: CmdStage,
) -> list[Problem]:
    loc: Loc = ("stages", sname)
    out = check_command(ws, ws.pipelines[pfile_name], sname, stage)
    for i, dep in enumerate(stage.deps):
        if "${" not in dep:  # a filled-in path is checked with the loop and params
            out += check_path(ws, doc, (*loc, "deps", i), dep)
    outs = [norm(out_path(spec)) for spec in stage.outs]
    for key, path in stage.provides.items():
        if norm(path) not in outs:
            out.append(
                doc.problem(
                    (*loc, "provides", key),
                    f"stages.{sname}.provides.{key}: '{path}' is not one of the stage's outs"
                    + did_you_mean(norm(path), outs),
                    f"list '{path}' under outs: too; a stage provides only files it writes",
                )
            )
    for group in ("outs", "metrics", "plots"):
        for i, spec in enumerate(getattr(stage, group)):
            item_loc: Loc = (*loc, group, i)
            if isinstance(spec, dict) and len(spec) != 1:
                out.append(
                    doc.problem(
                        item_loc,
                        f"stages.{sname}.{group}[{i}]: give one path per entry",
                        "write `- path: {cache: false}`",
                    )
                )
                continue
            path = out_path(spec)
            path_loc = item_loc if isinstance(spec, str) else (*item_loc, path)
            bad = [] if "${" in path else check_path(ws, doc, path_loc, path)
            why = None if bad else out_problem(ws.pipelines, path)
            if why is not None:
                bad.append(
                    doc.problem(
                        path_loc,
                        f"stages.{sname}.{group}[{i}]: path '{path}' {why}",
                        f"write under outputs/{pfile_name}/, the pipeline's own folder",
                    )
                )
            out += bad
            if isinstance(spec, dict) and spec[path].keys is not None and group != "metrics":
                out.append(
                    doc.problem(
                        (*item_loc, path, "keys"),
                        f"stages.{sname}.{group}[{i}]: keys: is only for metrics files",
                        "move the file under metrics:, or drop keys:",
                    )
                )
    return out
