"""Cross-file checks: references, names, paths, gates and deployments.

Each check adds problems located in the file that has to change. The stage
graph (cycles, outputs written twice) is in `runner.graph`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path, PurePosixPath
from typing import Any

from pydantic import ValidationError

from runner import interp
from runner.config.load import PipelineFile, Workspace
from runner.config.models import CmdStage, StepStage
from runner.errors import Problem, did_you_mean
from runner.gate import direction
from runner.graph import build_graph, out_path
from runner.steps.options import KNOWN_METRICS, SKLEARN_DATASETS
from runner.steps.registry import STEPS
from runner.sweep import affected, variants, with_overrides
from runner.yamlio import Document, Loc

# One rule for every name that becomes a DVC stage name, a git tag part, a
# workflow job id, a GitHub environment or a shell word: lowercase letters and
# digits, separated by single dashes or underscores.
NAME = re.compile(r"^[a-z][a-z0-9]*(?:[-_][a-z0-9]+)*$")
NAME_MAX = 63
PARAM_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
VERSION = re.compile(r"^v(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)$")
_REF_CHARS = re.compile(r"^[A-Za-z0-9._/~^-]+$")


def name_problem(value: str) -> str | None:
    """Why `value` is not a safe name, or None."""
    if len(value) > NAME_MAX:
        return f"is longer than {NAME_MAX} characters"
    if not NAME.match(value):
        return "is not a safe name"
    return None


_NAME_HINT = (
    "use lowercase letters and digits separated by '-' or '_', starting with a letter "
    "(names become DVC stages, git tags, workflow job ids and shell words)"
)


def check_workspace(ws: Workspace, *, complete: bool = True) -> list[Problem]:
    """Every cross-file problem; `complete=False` when some file failed to load."""
    problems: list[Problem] = []
    problems += _check_project(ws)
    for pfile in ws.pipelines.values():
        problems += _check_pipeline(ws, pfile)
    problems += _check_models_unique(ws)
    if complete:
        problems += _check_deployments(ws)
    graph = build_graph(ws)
    problems += graph.problems
    return problems


# ------------------------------------------------------------------ project


def _name(doc: Document, loc: Loc, value: str, what: str, *, key: bool = True) -> list[Problem]:
    why = name_problem(value)
    if why is None:
        return []
    return [doc.problem(loc, f"{what} '{value}' {why}", _NAME_HINT, prefer_key=key)]


def _check_project(ws: Workspace) -> list[Problem]:
    doc, project = ws.project_doc, ws.project
    out = _name(doc, ("project",), project.project, "project name", key=False)
    if project.storage is not None:
        for name in project.storage.remotes:
            out += _name(doc, ("storage", "remotes", name), name, "remote name")
        default = project.storage.default
        if default not in project.storage.remotes:
            out.append(
                doc.problem(
                    ("storage", "default"),
                    f"storage.default: remote '{default}' is not declared"
                    + did_you_mean(default, list(project.storage.remotes)),
                    f"declare it under storage.remotes, or use one of: "
                    f"{', '.join(project.storage.remotes)}",
                )
            )
    envs = project.environments
    for name, env in envs.items():
        out += _name(doc, ("environments", name), name, "environment name")
        if env.requires is None:
            continue
        loc = ("environments", name, "requires")
        if env.requires not in envs:
            out.append(
                doc.problem(
                    loc,
                    f"environments.{name}.requires: environment '{env.requires}' is not "
                    f"declared{did_you_mean(env.requires, list(envs))}",
                    f"declared environments: {', '.join(envs)}",
                )
            )
    out += _check_requires_loops(doc, envs)
    return out


def _check_requires_loops(doc: Document, envs: Mapping[str, Any]) -> list[Problem]:
    out: list[Problem] = []
    reported: set[frozenset[str]] = set()
    for start in envs:
        chain = [start]
        current = envs[start].requires
        while current is not None and current in envs:
            if current in chain:
                loop = [*chain[chain.index(current) :], current]
                if frozenset(loop) not in reported and loop[0] == start:
                    reported.add(frozenset(loop))
                    out.append(
                        doc.problem(
                            ("environments", start, "requires"),
                            f"environments.{start}.requires: requires loops back: "
                            + " -> ".join(loop),
                            "the first environment in the promotion order must not have requires:",
                        )
                    )
                break
            chain.append(current)
            current = envs[current].requires
    return out


# ----------------------------------------------------------------- pipelines


def _check_pipeline(ws: Workspace, pfile: PipelineFile) -> list[Problem]:
    doc, pipe = pfile.doc, pfile.model
    out: list[Problem] = []
    why = name_problem(pfile.name)
    if why:
        out.append(
            doc.problem_at(
                None, None, f"pipeline name '{pfile.name}' (from the file name) {why}", _NAME_HINT
            )
        )
    out += _check_param_keys(doc, pipe.params, ("params",))
    stages = pipe.stages
    for sname, stage in stages.items():
        loc: Loc = ("stages", sname)
        out += _name(doc, loc, sname, "stage name")
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
            out += _check_cmd(ws, doc, pipe.params, sname, stage)
    sweep_problems = _check_sweep(pfile)
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
    out += _check_gates(ws, pfile)
    out += _check_deploy(ws, pfile)
    return out


def _check_sweep(pfile: PipelineFile) -> list[Problem]:
    doc, pipe = pfile.doc, pfile.model
    out: list[Problem] = []
    for key in pipe.sweep:
        loc: Loc = ("sweep", key)
        try:
            value = interp.lookup(pipe.params, key)
        except interp.RefError as exc:
            out.append(
                doc.problem(
                    loc,
                    f"sweep: '{key}' is not in this pipeline's params ({exc.reason})",
                    "sweep keys are dotted paths into params:, e.g. train.max_depth",
                    prefer_key=True,
                )
            )
            continue
        if isinstance(value, (dict, list)):
            out.append(
                doc.problem(
                    loc,
                    f"sweep: '{key}' is a {'mapping' if isinstance(value, dict) else 'list'}; "
                    "sweep single values",
                    f"sweep keys below it instead, e.g. {key}.<name>",
                    prefer_key=True,
                )
            )
    if out or not pipe.sweep:
        return out
    swept = affected(pipe)
    first_key: Loc = ("sweep", next(iter(pipe.sweep)))
    for sname in swept:
        if isinstance(pipe.stages[sname], CmdStage):
            out.append(
                doc.problem(
                    first_key,
                    f"sweep: stage '{sname}' is a cmd stage; sweeps run built-in steps only",
                    "read the swept params from a built-in step, or list each variant as "
                    "its own stage",
                    prefer_key=True,
                )
            )
    deploy = pipe.deploy
    if deploy is not None:
        trains = [
            s for s, st in pipe.stages.items() if isinstance(st, StepStage) and st.step == "train"
        ]
        deployed = deploy.stage or (trains[-1] if trains else None)
        if deployed in swept:
            out.append(
                doc.problem(
                    ("deploy",),
                    f"deploy: stage '{deployed}' runs once per sweep variant, so which model "
                    "to deploy is ambiguous",
                    "deploy from a train stage outside the sweep, or drop deploy: while "
                    "exploring with a sweep",
                    prefer_key=True,
                )
            )
    for variant in variants(pipe.sweep):
        for sname in swept:
            name = f"{sname}-{variant.name}"
            if name in pipe.stages:
                out.append(
                    doc.problem(
                        ("stages", name),
                        f"stages.{name}: clashes with the sweep copy of '{sname}' for "
                        f"variant {variant.name}",
                        "rename the stage",
                        prefer_key=True,
                    )
                )
            elif name_problem(name):
                out.append(
                    doc.problem(
                        first_key,
                        f"sweep: variant stage name '{name}' {name_problem(name)}",
                        "use shorter param names or values",
                        prefer_key=True,
                    )
                )
    return out


def _check_param_keys(doc: Document, params: Any, loc: Loc) -> list[Problem]:
    out: list[Problem] = []
    if isinstance(params, dict):
        for key, value in params.items():
            if not PARAM_KEY.match(key):
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
            out += _path(ws, doc, src_loc, source)
            if not source.endswith((".csv", ".parquet")):
                out.append(
                    doc.problem(
                        src_loc,
                        f"stages.{sname}.with.source: '{source}' is neither .csv nor .parquet",
                        "give a CSV or parquet file, or sklearn:<dataset>",
                    )
                )
    return out


def _check_cmd(
    ws: Workspace, doc: Document, params: Mapping[str, Any], sname: str, stage: CmdStage
) -> list[Problem]:
    loc: Loc = ("stages", sname)
    out, _ = _check_refs(doc, params, stage.cmd, (*loc, "cmd"))
    for ref in dict.fromkeys(interp.refs(stage.cmd)):
        if out:
            break
        value = interp.lookup(params, ref)
        if isinstance(value, str) and any(ord(ch) < 32 or ord(ch) == 127 for ch in value):
            out.append(
                doc.problem(
                    (*loc, "cmd"),
                    f"stages.{sname}.cmd: ${{{ref}}} holds a newline or control character, "
                    "which cannot be passed safely on a command line",
                    f"list {ref} under params: and have the command read it from params.yaml",
                )
            )
    for i, key in enumerate(stage.params):
        try:
            interp.lookup(params, key)
        except interp.RefError as exc:
            out.append(
                doc.problem(
                    (*loc, "params", i),
                    f"stages.{sname}.params: '{key}' is not in this pipeline's params "
                    f"({exc.reason})",
                    "list keys of params:, e.g. train.max_depth",
                )
            )
    for i, dep in enumerate(stage.deps):
        out += _path(ws, doc, (*loc, "deps", i), dep)
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
            out += _path(ws, doc, item_loc if isinstance(spec, str) else (*item_loc, path), path)
            if isinstance(spec, dict) and spec[path].keys is not None and group != "metrics":
                out.append(
                    doc.problem(
                        (*item_loc, path, "keys"),
                        f"stages.{sname}.{group}[{i}]: keys: is only for metrics files",
                        "move the file under metrics:, or drop keys:",
                    )
                )
    return out


def _path(ws: Workspace, doc: Document, loc: Loc, path: str) -> list[Problem]:
    why = path_problem(ws.root, path)
    if why is None:
        return []
    return [
        doc.problem(
            loc,
            f"{_dotted(loc)}: path '{path}' {why}",
            "paths are relative to the project root and stay inside it",
        )
    ]


def _dotted(loc: Loc) -> str:
    from runner.yamlio import format_loc

    return format_loc(tuple(part for part in loc if isinstance(part, int) or "/" not in part))


def path_problem(root: Path, path: str) -> str | None:
    """Why `path` is not a safe repository-relative path, or None."""
    if not path.strip():
        return "is empty"
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in path):
        return "contains a control character"
    if "\\" in path:
        return "contains a backslash (use '/')"
    if path.startswith(("/", "~")) or re.match(r"^[A-Za-z]:", path):
        return "is absolute"
    depth = 0
    for part in PurePosixPath(path).parts:
        depth += -1 if part == ".." else (0 if part == "." else 1)
        if depth < 0:
            return "escapes the project folder"
    parts = PurePosixPath(path).parts
    if parts and parts[0] in (".git", ".dvc"):
        return f"points into {parts[0]}/"
    real_root = root.resolve()
    resolved = (root / path).resolve()
    if resolved != real_root and real_root not in resolved.parents:
        return "leaves the project folder through a symlink"
    return None


# -------------------------------------------------------------- gates, deploy


def produced_metrics(pfile: PipelineFile) -> set[str]:
    """Metric names the pipeline's stages write."""
    names: set[str] = set()
    for stage in pfile.model.stages.values():
        if isinstance(stage, StepStage) and stage.step == "evaluate":
            chosen = stage.with_.get("metrics")
            names.update(chosen if isinstance(chosen, list) else KNOWN_METRICS)
        elif isinstance(stage, CmdStage):
            for spec in stage.metrics:
                if isinstance(spec, dict):
                    names.update(next(iter(spec.values())).keys or ())
    return names


def _check_gates(ws: Workspace, pfile: PipelineFile) -> list[Problem]:
    gates = pfile.model.gates
    if gates is None:
        return []
    doc = pfile.doc
    out: list[Problem] = []
    envs = ws.project.environments
    if gates.baseline is not None and gates.baseline not in envs:
        base = gates.baseline
        if not _looks_like_ref(base, ws.project.ci.main_branch):
            out.append(
                doc.problem(
                    ("gates", "baseline"),
                    f"gates.baseline: '{base}' is neither a declared environment nor a git ref"
                    + did_you_mean(base, list(envs)),
                    f"use an environment ({', '.join(envs) or 'none declared'}) or a ref "
                    "such as origin/main",
                )
            )
    if gates.baseline in envs and pfile.model.deploy is None:
        out.append(
            doc.problem(
                ("gates", "baseline"),
                f"gates.baseline: environment '{gates.baseline}' runs models, but this "
                "pipeline deploys none",
                "add deploy: to the pipeline, or compare with a git ref such as origin/main",
            )
        )
    produced = produced_metrics(pfile)
    if gates.select is not None:
        if not pfile.model.sweep:
            out.append(
                doc.problem(
                    ("gates", "select"),
                    "gates.select: picks the best sweep variant, but the pipeline has no sweep:",
                    "remove select:, or add a sweep:",
                )
            )
        if gates.select not in produced:
            out.append(
                doc.problem(
                    ("gates", "select"),
                    f"gates.select: no stage produces metric '{gates.select}'"
                    + did_you_mean(gates.select, sorted(produced)),
                    "choose a metric an evaluate stage writes",
                )
            )
        elif direction(gates.select, gates.select_direction) is None:
            out.append(
                doc.problem(
                    ("gates", "select"),
                    f"gates.select: is higher or lower '{gates.select}' better?",
                    "add select_direction: higher (or lower)",
                )
            )
    for i, rule in enumerate(gates.rules):
        if rule.metric not in produced:
            out.append(
                doc.problem(
                    ("gates", "rules", i, "metric"),
                    f"gates.rules[{i}].metric: no stage produces metric '{rule.metric}'"
                    + did_you_mean(rule.metric, sorted(produced)),
                    "add it to an evaluate stage's with.metrics, or declare it under "
                    "keys: of a custom stage's metrics file",
                )
            )
    return out


def _looks_like_ref(value: str, main_branch: str) -> bool:
    if not _REF_CHARS.match(value) or ".." in value or value.endswith((".", "/", ".lock")):
        return False
    return (
        value in (main_branch, "HEAD")
        or value.startswith(("refs/", "HEAD~", "HEAD^"))
        or "/" in value
        or bool(re.fullmatch(r"[0-9a-f]{7,40}", value))
    )


def _check_deploy(ws: Workspace, pfile: PipelineFile) -> list[Problem]:
    deploy = pfile.model.deploy
    if deploy is None:
        return []
    doc = pfile.doc
    out = _name(doc, ("deploy", "model"), deploy.model, "model name", key=False)
    envs = ws.project.environments
    for i, env in enumerate(deploy.environments):
        if env not in envs:
            out.append(
                doc.problem(
                    ("deploy", "environments", i),
                    f"deploy.environments: environment '{env}' is not declared in mlops.yaml"
                    + did_you_mean(env, list(envs)),
                    f"declared environments: {', '.join(envs) or 'none'}",
                )
            )
    stages = pfile.model.stages
    if deploy.stage is not None:
        if deploy.stage not in stages:
            out.append(
                doc.problem(
                    ("deploy", "stage"),
                    f"deploy.stage: no stage named '{deploy.stage}'"
                    + did_you_mean(deploy.stage, list(stages)),
                    f"stages in this pipeline: {', '.join(stages)}",
                )
            )
        else:
            stage = stages[deploy.stage]
            single = isinstance(stage, CmdStage) and len(stage.outs) == 1
            if not (isinstance(stage, StepStage) and stage.step == "train") and not single:
                out.append(
                    doc.problem(
                        ("deploy", "stage"),
                        f"deploy.stage: stage '{deploy.stage}' does not write a model",
                        "name a train step, or a cmd stage with exactly one entry in outs:",
                    )
                )
    elif not any(isinstance(s, StepStage) and s.step == "train" for s in stages.values()):
        out.append(
            doc.problem(
                ("deploy",),
                "deploy: the pipeline has no train step, so nothing to deploy",
                "add deploy.stage: naming the cmd stage that writes the model",
                prefer_key=True,
            )
        )
    return out


def _check_models_unique(ws: Workspace) -> list[Problem]:
    out: list[Problem] = []
    owner: dict[str, str] = {}
    for pname, pfile in ws.pipelines.items():
        deploy = pfile.model.deploy
        if deploy is None:
            continue
        if deploy.model in owner:
            out.append(
                pfile.doc.problem(
                    ("deploy", "model"),
                    f"deploy.model: model '{deploy.model}' is already deployed by pipeline "
                    f"'{owner[deploy.model]}'",
                    "each model name belongs to one pipeline",
                )
            )
        else:
            owner[deploy.model] = pname
    return out


# ------------------------------------------------------------- deployments


def _check_deployments(ws: Workspace) -> list[Problem]:
    doc = ws.deployments_doc
    if doc is None:
        return []
    envs = ws.project.environments
    deployed: dict[str, set[str]] = {}
    for pfile in ws.pipelines.values():
        if pfile.model.deploy:
            for env in pfile.model.deploy.environments:
                deployed.setdefault(env, set()).add(pfile.model.deploy.model)
    out: list[Problem] = []
    for env, models in ws.deployments.items():
        if env not in envs:
            out.append(
                doc.problem(
                    (env,),
                    f"environment '{env}' is not declared in mlops.yaml"
                    + did_you_mean(env, list(envs)),
                    f"declared environments: {', '.join(envs) or 'none'}",
                    prefer_key=True,
                )
            )
            continue
        for model, version in models.items():
            if model not in deployed.get(env, set()):
                out.append(
                    doc.problem(
                        (env, model),
                        f"{env}.{model}: no pipeline deploys model '{model}' to '{env}'"
                        + did_you_mean(model, sorted(deployed.get(env, set()))),
                        "add the environment to that pipeline's deploy.environments",
                        prefer_key=True,
                    )
                )
            if version != "latest" and not VERSION.match(version):
                out.append(
                    doc.problem(
                        (env, model),
                        f"{env}.{model}: '{version}' is not a version",
                        "write latest or a version such as v0.3.1",
                    )
                )
    return out
