"""A pipeline's gates: and deploy: against its stages and the declared environments."""

from __future__ import annotations

import re

from runner.config.load import PipelineFile, Workspace
from runner.config.models import CmdStage, StepStage
from runner.config.step_options import KNOWN_METRICS
from runner.errors import Problem, did_you_mean
from runner.project.checks.names import check_name

_REF_CHARS = re.compile(r"^[A-Za-z0-9._/~^-]+$")


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


def check_gates(ws: Workspace, pfile: PipelineFile) -> list[Problem]:
    """Problems in the gates: of one pipeline file."""
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
        elif (gates.select_direction or gates.direction_of(gates.select)) is None:
            out.append(
                doc.problem(
                    ("gates", "select"),
                    f"gates.select: is higher or lower '{gates.select}' better?",
                    "add select_direction: higher (or lower)",
                )
            )
    out += _direction_conflicts(pfile)
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


def _direction_conflicts(pfile: PipelineFile) -> list[Problem]:
    """A metric is better one way: rules (and select_direction) must not disagree."""
    gates = pfile.model.gates
    assert gates is not None
    out: list[Problem] = []
    first: dict[str, tuple[str, str]] = {}  # metric -> (direction, where it was declared)
    if gates.select is not None and gates.select_direction is not None:
        first[gates.select] = (gates.select_direction, "select_direction")
    for i, rule in enumerate(gates.rules):
        if rule.direction is None:
            continue
        declared = first.setdefault(rule.metric, (rule.direction, f"rules[{i}]"))
        if declared[0] != rule.direction:
            out.append(
                pfile.doc.problem(
                    ("gates", "rules", i, "direction"),
                    f"gates.rules[{i}].direction: '{rule.direction}' contradicts "
                    f"{declared[1]} ('{declared[0]}') for metric '{rule.metric}'",
                    "a metric is better one way: give the same direction, or drop one",
                )
            )
    return out


def _looks_like_ref(value: str, main_branch: str) -> bool:
    if not _REF_CHARS.fullmatch(value) or ".." in value or value.endswith((".", "/", ".lock")):
        return False
    return (
        value in (main_branch, "HEAD")
        or value.startswith(("refs/", "HEAD~", "HEAD^"))
        or "/" in value
        or bool(re.fullmatch(r"[0-9a-f]{7,40}", value))
    )


def check_deploy(ws: Workspace, pfile: PipelineFile) -> list[Problem]:
    """Problems in the deploy: of one pipeline file."""
    deploy = pfile.model.deploy
    if deploy is None:
        return []
    doc = pfile.doc
    out = check_name(doc, ("deploy", "model"), deploy.model, "model name", key=False)
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
            single = isinstance(stage, CmdStage) and (
                len(stage.outs) == 1 or deploy.path is not None
            )
            if not (isinstance(stage, StepStage) and stage.step == "train") and not single:
                out.append(
                    doc.problem(
                        ("deploy", "stage"),
                        f"deploy.stage: stage '{deploy.stage}' does not write a model",
                        "name a train step, or a cmd stage with exactly one entry in outs: "
                        "(or name its model output in deploy.path:)",
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
