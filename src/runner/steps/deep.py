"""`mlops validate --deep`: the checks that need scikit-learn or the data's header.

Plain `validate` stays light (no pandas, no scikit-learn); these checks import
the estimators, build them with their params and read the columns of each
ingested file, so that a misspelt class, an unknown param, a target the data
does not have or a metric of the other task is reported at its YAML line
before any stage runs. It calls the estimator and column code the steps run.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import ValidationError

from runner.config.load import PipelineFile, Workspace
from runner.config.models import StepStage
from runner.config.step_options import (
    CLASSIFICATION_METRICS,
    REGRESSION_METRICS,
    EvaluateOptions,
    IngestOptions,
    SplitOptions,
    TrainOptions,
)
from runner.config.steps import STEPS
from runner.errors import Problem
from runner.project import interp
from runner.project.graph import Graph, Node, StageId, build_graph
from runner.project.sweep import stages_of, with_overrides
from runner.yamlio import Document, Loc


def deep_problems(ws: Workspace) -> list[Problem]:
    """Every deep problem of every pipeline, each once (sweep copies share their lines)."""
    graph = build_graph(ws)
    found: dict[tuple[str, int | None, int | None, str], Problem] = {}
    for pfile in ws.pipelines.values():
        for problem in _pipeline_problems(ws, pfile, graph):
            found.setdefault((problem.file, problem.line, problem.col, problem.message), problem)
    return list(found.values())


def _options(pfile: PipelineFile, stage: StepStage, overrides: Mapping[str, Any]) -> Any:
    params = pfile.model.params
    if overrides:
        params = with_overrides(params, overrides)
    try:
        return STEPS[stage.step].options.model_validate(interp.resolve(stage.with_, params))
    except (interp.RefError, ValidationError):
        return None  # plain validation reports these


def _pipeline_problems(ws: Workspace, pfile: PipelineFile, graph: Graph) -> list[Problem]:
    doc = pfile.doc
    out: list[Problem] = []
    columns: dict[StageId, list[str] | None] = {}
    tasks: dict[StageId, tuple[str, str]] = {}  # train stage -> (task, estimator class)
    for sname, item in stages_of(pfile).items():
        stage = item.stage
        if not isinstance(stage, StepStage) or stage.step not in STEPS:
            continue
        node = graph.nodes[(pfile.name, sname)]
        options = _options(pfile, stage, item.overrides)
        loc: Loc = ("stages", item.source, "with")
        where = f"stages.{item.source}.with"
        if isinstance(options, IngestOptions):
            columns[node.id] = _ingest_columns(ws, options)
        elif isinstance(options, SplitOptions):
            provider = _provider(graph, node, "data")
            known = columns.get(provider) if provider is not None else None
            if provider is not None and known is not None and options.target not in known:
                from runner.ml.errors import column_hint

                origin = graph.nodes[provider].source
                out.append(
                    doc.problem(
                        (*loc, "target"),
                        f"{where}.target: the data from stage '{origin}' "
                        f"has no column '{options.target}'",
                        column_hint(options.target, known),
                    )
                )
        elif isinstance(options, TrainOptions):
            built, problems = _train_problems(doc, stage, item.source, options)
            out += problems
            if built is not None:
                tasks[node.id] = built
        elif isinstance(options, EvaluateOptions) and options.metrics:
            provider = _provider(graph, node, "model")
            if provider is None or provider not in tasks:
                continue
            task, estimator = tasks[provider]
            own = CLASSIFICATION_METRICS if task == "classification" else REGRESSION_METRICS
            kind, other = (
                ("classifier", "regression")
                if task == "classification"
                else ("regressor", "classification")
            )
            for i, name in enumerate(options.metrics):
                if name not in own:
                    out.append(
                        doc.problem(
                            (*loc, "metrics", i),
                            f"{where}.metrics[{i}]: metric '{name}' is for {other} models, but "
                            f"{estimator} (stage '{graph.nodes[provider].source}') is a {kind}",
                            "use one of: " + ", ".join(own) + " (or omit metrics to compute all)",
                        )
                    )
    return out


def _provider(graph: Graph, node: Node, want: str) -> StageId | None:
    """The stage whose output is `node`'s input `want`."""
    path = node.inputs.get(want)
    for other in graph.nodes.values():
        if other.pipeline == node.pipeline and path is not None and path in other.outputs.values():
            return other.id
    return None


def _ingest_columns(ws: Workspace, options: IngestOptions) -> list[str] | None:
    """The columns after ingest's rename; None when they cannot be known."""
    from runner.ml.errors import StepError
    from runner.ml.ingest import source_columns

    try:
        names = source_columns(options.source, ws.root)
    except (StepError, OSError, ValueError):
        return None  # unreadable or unknown sources fail their own way
    if names is None:
        return None
    return [options.rename.get(name, name) for name in names]


def _train_problems(
    doc: Document, stage: StepStage, source: str, options: TrainOptions
) -> tuple[tuple[str, str] | None, list[Problem]]:
    """The estimator's (task, class name) when it can be built, and what stops it."""
    from sklearn.base import is_classifier

    from runner.ml.errors import StepError
    from runner.ml.estimator import import_estimator, make_estimator, unknown_params

    where = f"stages.{source}.with"
    try:
        cls = import_estimator(options.estimator)
    except StepError as exc:
        loc: Loc = ("stages", source, "with", "estimator")
        return None, [doc.problem(loc, f"{where}.estimator: {exc.message}", exc.hint)]
    unknown = unknown_params(options.estimator, cls, options.params)
    if unknown:
        return None, [
            doc.problem(
                _param_loc(stage, source, name),
                f"{where}.params: {exc.message}",
                exc.hint,
                prefer_key=True,
            )
            for name, exc in unknown
        ]
    try:
        estimator, _ = make_estimator(options.estimator, cls, options.params, 0)
    except StepError as exc:
        return None, [doc.problem(("stages", source, "with"), f"{where}: {exc.message}", exc.hint)]
    task = "classification" if is_classifier(estimator) else "regression"
    return (task, cls.__name__), []


def _param_loc(stage: StepStage, source: str, name: str) -> Loc:
    """Where an estimator param is written: in `with.params`, or under `params:` when
    `with.params` is one reference such as `${train}`."""
    raw = stage.with_.get("params")
    if isinstance(raw, str):
        whole = interp.REF.fullmatch(raw)
        if whole:
            return ("params", *whole.group(1).split("."), name)
    return ("stages", source, "with", "params", name)
