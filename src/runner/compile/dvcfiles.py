"""Compile the project's YAML into the files DVC runs. Pure: returns [(path, text)].

Per pipeline, `pipelines/<name>/dvc.yaml` holds literal stages (no DVC
templating) with `wdir` at the project root, so each pipeline has its own
`dvc.lock` and PRs on different pipelines do not conflict. Built-in steps
take their options from `pipelines/<name>/steps.yaml`, and their params from
`params.yaml`, at run time: DVC tracks the exact keys each stage reads, so
`dvc exp run -S iris.train.max_depth=2` re-runs only what depends on it, and
no user value ever reaches a shell. A `${...}` in a custom `cmd` stays a DVC
reference into the root `params.yaml` (`vars:`), so `dvc exp run -S` reaches
the command. A custom stage without outputs also writes an empty stamp file
(`outputs/<pipeline>/.ran/<stage>`). The root `dvc.yaml` has one small stage
per pipeline depending on its final outputs and those stamps, so plain
`dvc repro` reproduces every stage, and the `artifacts:` of every deployed model.
"""

from __future__ import annotations

import configparser
import io
import json
import re
import shlex
from typing import Any

from runner import yamlio
from runner.compile.cmdstages import cmd_stage, loop_stage, pipeline_vars
from runner.compile.dvcstage import STEP_CMD, dvc_stage, stage_meta
from runner.compile.header import header
from runner.compile.yamlout import dump
from runner.config.load import PipelineFile, Workspace
from runner.config.models import CmdStage, StepStage
from runner.config.schemas import FILES, dumps, schema
from runner.config.steps import STEPS
from runner.errors import UsageError
from runner.fsutil import sha256_bytes
from runner.layout import (
    DVC_CONFIG,
    PARAMS_FILE,
    PIPELINES_DIR,
    PROJECT_FILE,
    ROOT_DVC_YAML,
    SCHEMA_DIR,
    manifest_file,
    pipeline_dvc_yaml,
    stage_stamp,
    steps_file,
)
from runner.project import interp
from runner.project.graph import Graph, Node, build_graph, norm, out_path
from runner.project.paramsfile import params_files
from runner.project.sweep import stages_of


def compile_dvc(ws: Workspace) -> list[tuple[str, str]]:
    """The DVC files, params.yaml and the editor schemas as (project-relative path, text)."""
    graph = build_graph(ws)
    files: list[tuple[str, str]] = [
        (path, _params_yaml(values)) for path, values in params_files(ws).items()
    ]
    for name, pfile in ws.pipelines.items():
        files.append((pipeline_dvc_yaml(name), _pipeline_dvc_yaml(pfile, graph)))
        steps = _steps_yaml(pfile, graph)
        if steps is not None:
            files.append((steps_file(name), steps))
    files.append((ROOT_DVC_YAML, _root_dvc_yaml(ws, graph)))
    if ws.project.storage is not None:
        files.append((DVC_CONFIG, _dvc_config(ws)))
    files += [(f"{SCHEMA_DIR}/{FILES[k][0]}", dumps(schema(k))) for k in FILES]
    return files


# ------------------------------------------------------------------ params


PARAMS_DIGEST = re.compile(r"^# values-sha256: (?P<digest>[0-9a-f]{64})$", re.MULTILINE)


def params_digest(values: Any) -> str:
    """The sha256 of params.yaml's values, recorded in its header by compile, so that a
    later change made through DVC (`dvc exp run -S`, `dvc exp apply`) can be told apart."""
    return sha256_bytes(json.dumps(values, sort_keys=True, default=str).encode())


def _params_yaml(params: dict[str, Any]) -> str:
    body = dump(params) if params else "{}\n"
    digest = params_digest(yamlio.read(body))
    return header(f"{PIPELINES_DIR}/*.yaml") + f"# values-sha256: {digest}\n" + body


# --------------------------------------------------------- pipeline dvc.yaml


def _pipeline_dvc_yaml(pfile: PipelineFile, graph: Graph) -> str:
    stages: dict[str, Any] = {}
    for sname, item in stages_of(pfile).items():
        node = graph.nodes[(pfile.name, sname)]
        stage = item.stage
        if isinstance(stage, StepStage):
            stages[sname] = _step_stage(pfile, sname, stage, node, graph)
        elif item.loop_key is not None:
            # One DVC `foreach`/`matrix` for all copies; DVC names them `<stage>@<key>`.
            if item.source not in stages:
                stages[item.source] = loop_stage(pfile, item.source, graph)
            continue
        else:
            stages[sname] = cmd_stage(pfile, sname, stage, node, graph)
        if item.variant is not None:
            stages[sname]["meta"]["variant"] = item.variant.name
            stages[sname]["meta"]["sweep"] = dict(item.overrides)
    body: dict[str, Any] = {"stages": stages}
    top_vars = pipeline_vars(pfile)
    if top_vars:
        body = {"vars": top_vars, **body}
    return header(pfile.doc.path) + dump(body)


def _step_stage(
    pfile: PipelineFile, sname: str, stage: StepStage, node: Node, graph: Graph
) -> dict[str, Any]:
    spec = STEPS[stage.step]
    name = pfile.name
    deps = sorted(set(node.deps))
    params: list[Any] = [{steps_file(name): [sname]}]
    refs = sorted({f"{name}.{ref}" for ref in interp.refs(stage.with_)})
    if refs:
        params.insert(0, {PARAMS_FILE: refs})
    outs: list[Any] = []
    metrics: list[Any] = []
    plots: list[Any] = []
    # When the task is known the root dvc.yaml gives each plot file its template;
    # the folder is then a plain output, so DVC does not render it twice. It is
    # cached: DVC saves no run-cache entry for a stage with an uncached plain output.
    templated = _templated_plots(pfile, graph, sname, stage)
    for key, path in sorted(node.outputs.items()):
        if key in spec.metrics:
            metrics.append({path: {"cache": False}})
        elif key in spec.plots and not templated:
            plots.append({path: {"cache": False}})
        else:
            outs.append(path)
    return dvc_stage(
        cmd=f"{STEP_CMD} {shlex.quote(name)} {shlex.quote(sname)}",
        deps=deps,
        params=params,
        outs=outs,
        metrics=metrics,
        plots=plots,
        meta=stage_meta(pfile, node),
        desc=stage.desc,
    )


def _templated_plots(pfile: PipelineFile, graph: Graph, sname: str, stage: StepStage) -> bool:
    """True when the root dvc.yaml templates this evaluate stage's plot files."""
    return stage.step == "evaluate" and _evaluate_task(pfile, graph, sname) is not None


def stamps(pfile: PipelineFile) -> list[str]:
    """The stamp files of the pipeline's custom stages that declare no outputs."""
    return [
        stage_stamp(pfile.name, sname)
        for sname, item in stages_of(pfile).items()
        if isinstance(item.stage, CmdStage)
        and not (item.stage.outs or item.stage.metrics or item.stage.plots)
    ]


# -------------------------------------------------------------- steps.yaml


def _steps_yaml(pfile: PipelineFile, graph: Graph) -> str | None:
    entries: dict[str, Any] = {}
    for sname, item in stages_of(pfile).items():
        stage = item.stage
        if not isinstance(stage, StepStage):
            continue
        node = graph.nodes[(pfile.name, sname)]
        entry: dict[str, Any] = {"step": stage.step}
        if stage.with_:
            entry["with"] = stage.with_
        if item.overrides:
            # Applied over params.yaml before `${...}` is resolved, at run time.
            entry["overrides"] = item.overrides
        if node.inputs:
            entry["inputs"] = dict(sorted(node.inputs.items()))
        entry["outputs"] = dict(sorted(node.outputs.items()))
        entries[sname] = entry
    if not entries:
        return None
    return header(pfile.doc.path) + dump(entries)


# ------------------------------------------------------------- .gitignore


def cached_outputs(ws: Workspace) -> list[str]:
    """Every output DVC keeps in its cache (and so out of git), sorted."""
    graph = build_graph(ws)
    paths: set[str] = set()
    for pfile in ws.pipelines.values():
        paths.add(manifest_file(pfile.name))
        for sname, item in stages_of(pfile).items():
            stage = item.stage
            node = graph.nodes[(pfile.name, sname)]
            if isinstance(stage, StepStage):
                spec = STEPS[stage.step]
                templated = _templated_plots(pfile, graph, sname, stage)
                paths.update(
                    path
                    for key, path in node.outputs.items()
                    if key not in spec.metrics and (templated or key not in spec.plots)
                )
                continue
            for group in (stage.outs, stage.metrics, stage.plots):
                for spec_ in group:
                    cached = isinstance(spec_, str) or spec_[out_path(spec_)].cache is not False
                    # Metrics and plots are cached unless `cache: false`, like outs.
                    if cached:
                        paths.add(norm(out_path(spec_)))
    return sorted(paths)


# ------------------------------------------------------------ root dvc.yaml


def _nodes_of(pfile: PipelineFile, graph: Graph) -> list[Node]:
    """The graph nodes of one pipeline, in declaration order (without scanning the
    others: compile calls this once per pipeline)."""
    return [graph.nodes[(pfile.name, sname)] for sname in stages_of(pfile)]


def final_outputs(pfile: PipelineFile, graph: Graph) -> list[str]:
    """Outputs of the pipeline that no other stage of it reads, plus the deployed model."""
    nodes = _nodes_of(pfile, graph)
    read = {dep for n in nodes for dep in n.deps}
    finals = {out for n in nodes for out in n.outs if out not in read}
    model = model_path(pfile, graph)
    if model:
        finals.add(model)
    return sorted(finals)


def _root_deps(pfile: PipelineFile, graph: Graph) -> list[str]:
    """What a pipeline's root stage depends on: its final outputs and stamps.

    DVC runs the stages `dvc repro` reaches depth first, in the order of the root
    stage's deps. With custom stages, the root therefore also lists one output of
    each, in the order the pipeline declares them, so that the stages run in the
    order a hand-written dvc.yaml runs them. (Built-in steps alone keep the sorted
    list: they form one chain, whose order no listing changes.)
    """
    wanted = {*final_outputs(pfile, graph), *stamps(pfile)}
    if not any(isinstance(s, CmdStage) for s in pfile.model.stages.values()):
        return sorted(wanted)
    ordered: list[str] = []
    for node in _nodes_of(pfile, graph):
        outs = [out for out in (*node.outs, stage_stamp(pfile.name, node.name)) if out in wanted]
        stage = pfile.model.stages[node.source]
        if not outs and isinstance(stage, CmdStage) and node.outs:
            outs = [node.outs[0]]
        ordered += sorted(outs)
    return list(dict.fromkeys(ordered))


def model_path(pfile: PipelineFile, graph: Graph) -> str | None:
    """The path of the model a pipeline deploys, or None."""
    deploy = pfile.model.deploy
    if deploy is None:
        return None
    if deploy.path is not None:
        return norm(deploy.path)
    stage_name = deploy.stage
    if stage_name is None:
        trains = [
            s
            for s, st in pfile.model.stages.items()
            if isinstance(st, StepStage) and st.step == "train"
        ]
        stage_name = trains[-1]
    node = graph.nodes[(pfile.name, stage_name)]
    return node.outputs.get("model") or node.outs[0]


def _root_dvc_yaml(ws: Workspace, graph: Graph) -> str:
    stages: dict[str, Any] = {}
    artifacts: dict[str, Any] = {}
    plots: list[Any] = []
    metrics: list[str] = []
    params_shown: list[str] = []
    for name, pfile in ws.pipelines.items():
        stages[name] = {
            "cmd": f"{STEP_CMD} --manifest {shlex.quote(name)}",
            "deps": _root_deps(pfile, graph),
            # Cached, so that DVC's run-cache restores the root stage too.
            "outs": [manifest_file(name)],
            "meta": {"source": pfile.doc.path},
        }
        deploy = pfile.model.deploy
        model = model_path(pfile, graph)
        if deploy is not None and model is not None:
            artifact: dict[str, Any] = {"path": model, "type": "model"}
            if pfile.model.description:
                artifact["desc"] = pfile.model.description
            artifact["meta"] = {"pipeline": name}
            artifacts[deploy.model] = artifact
        for aname, declared in pfile.model.artifacts.items():
            artifacts[aname] = {
                "path": norm(declared.path),
                **declared.model_dump(exclude_defaults=True, exclude={"path"}),
            }
        plots += _plot_definitions(pfile, graph)
        plots += [spec if isinstance(spec, str) else _top_plot(spec) for spec in pfile.model.plots]
        metrics += pfile.model.metrics
        params_shown += pfile.model.params_files
    body: dict[str, Any] = {"stages": stages}
    if metrics:
        body["metrics"] = list(dict.fromkeys(metrics))
    if plots:
        body["plots"] = plots
    if params_shown:
        body["params"] = list(dict.fromkeys(params_shown))
    if artifacts:
        body["artifacts"] = dict(sorted(artifacts.items()))
    return header(f"{PROJECT_FILE} and {PIPELINES_DIR}/*.yaml") + dump(body)


_CLASSIFIER = re.compile(
    r"(Classifier|Classification|^LogisticRegression\w*|^SVC|^NuSVC|^LinearSVC|NB|^Perceptron)$"
)


def _task(stage: StepStage) -> str | None:
    """classification / regression for a train step, guessed without importing sklearn."""
    estimator = stage.with_.get("estimator")
    if not isinstance(estimator, str):
        return None
    cls = estimator.rsplit(".", 1)[-1]
    if _CLASSIFIER.search(cls):
        return "classification"
    if re.search(
        r"(Regressor|Regression|^SVR|^NuSVR|^LinearSVR|^Ridge|^Lasso\w*|^ElasticNet\w*|^Lars\w*)$",
        cls,
    ):
        return "regression"
    return None


def _evaluate_task(pfile: PipelineFile, graph: Graph, sname: str) -> str | None:
    """The task of the model an evaluate stage scores, when the name tells it."""
    node = graph.nodes[(pfile.name, sname)]
    model_dir = node.inputs.get("model")
    for other, item in stages_of(pfile).items():
        stage = item.stage
        if (
            isinstance(stage, StepStage)
            and stage.step == "train"
            and graph.nodes[(pfile.name, other)].outputs.get("model") == model_dir
        ):
            return _task(stage)
    return None


def _plot_definitions(pfile: PipelineFile, graph: Graph) -> list[Any]:
    """Templates for the plot files an evaluate step writes (confusion matrix, curves)."""
    out: list[Any] = []
    for sname, item in stages_of(pfile).items():
        stage = item.stage
        if not (isinstance(stage, StepStage) and stage.step == "evaluate"):
            continue
        task = _evaluate_task(pfile, graph, sname)
        folder = graph.nodes[(pfile.name, sname)].outputs["plots"]
        title = f"{pfile.name}:{sname}"
        if task == "classification":
            out += [
                _plot(f"{folder}/confusion.json", "confusion", "actual", "predicted", title),
                _plot(f"{folder}/roc.json", "linear", "fpr", "tpr", f"{title} ROC"),
                _plot(
                    f"{folder}/precision_recall.json",
                    "linear",
                    "recall",
                    "precision",
                    f"{title} precision-recall",
                ),
            ]
        elif task == "regression":
            out.append(_plot(f"{folder}/residuals.json", "scatter", "actual", "predicted", title))
    return out


def _top_plot(spec: dict[str, Any]) -> dict[str, Any]:
    """A top-level plot as DVC reads it: its id (a file) with the properties given."""
    return {
        key: value.model_dump(exclude_none=True) if value is not None else None
        for key, value in spec.items()
    }


def _plot(path: str, template: str, x: str, y: str, title: str) -> dict[str, Any]:
    return {path: {"template": template, "x": x, "y": y, "title": title}}


# --------------------------------------------------------------- .dvc/config


def _dvc_config(ws: Workspace) -> str:
    storage = ws.project.storage
    assert storage is not None
    sections: dict[str, dict[str, str]] = {"core": {"remote": storage.default}}
    for name, remote in storage.remotes.items():
        url = remote.url
        if remote.is_relative:
            url = f"../{url}"  # DVC resolves relative remote paths from .dvc/
        sections[f"'remote \"{name}\"'"] = {"url": url}
    return ini_text(
        [
            "Generated by mlops-runner from mlops.yaml (storage:). Do not edit: change",
            "mlops.yaml and run `mlops compile`. Credentials go in .dvc/config.local or",
            "the environment, never here.",
        ],
        sections,
    )


def ini_text(comments: list[str], sections: dict[str, dict[str, str]]) -> str:
    """`sections` as INI text written by configparser, after `comments` (one `#` line
    each), refused (UsageError) unless it reads back exactly as given."""
    for values in sections.values():
        for key, value in values.items():
            if any(ord(c) < 32 or ord(c) == 127 for c in key + value):
                # configparser would write a newline as a continuation line, which it reads
                # back, but DVC's reader (configobj) does not.
                raise UsageError(
                    f".dvc/config: the value of {key!r} contains a control character: {value!r}",
                    "check storage.remotes in mlops.yaml: a remote URL is one line",
                )
    parser = configparser.ConfigParser(interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read_dict(sections)
    out = io.StringIO()
    parser.write(out)
    text = "".join(f"# {line}\n" for line in comments) + out.getvalue().rstrip("\n") + "\n"
    _check_ini(text, sections)
    return text


def _check_ini(text: str, sections: dict[str, dict[str, str]]) -> None:
    """Read `text` back with the reader DVC uses for its config (configobj): a value
    that would add a section, lose its tail to a comment, become a list or lose its
    quotes is refused here, whatever validation let through, instead of reaching
    .dvc/config."""
    from configobj import (  # type: ignore[import-untyped]  # light, installed with DVC
        ConfigObj,
        ConfigObjError,
    )

    try:
        parsed = ConfigObj(text.splitlines())
    except ConfigObjError as err:
        raise UsageError(
            f".dvc/config would not be valid INI: {err}", "check storage.remotes in mlops.yaml"
        ) from err
    # configobj unquotes section names: ['remote "x"'] is the section remote "x".
    wanted = {name.removeprefix("'").removesuffix("'"): values for name, values in sections.items()}
    read = {name: dict(values) for name, values in parsed.items()}
    if read != wanted:
        raise UsageError(
            ".dvc/config would not read back as written: a remote URL changes its meaning",
            "check storage.remotes in mlops.yaml: no newline, '#', ';' or ',', no leading "
            "quote, no surrounding blanks",
        )
