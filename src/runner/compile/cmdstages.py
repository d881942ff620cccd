"""Custom `cmd:` stages as DVC stages: DVC's own templating kept.

`${key}` of the pipeline's params becomes the key DVC knows it by, filled in from
the params file when the stage runs (so `dvc exp run -S` reaches the command);
`${item}`/`${key}` of a loop and `vars:` stay as written; a `foreach:`/`matrix:`
stage is written once, in DVC's form, and DVC names its copies `<stage>@<key>`.
"""

from __future__ import annotations

from typing import Any

from runner.compile.dvcstage import dvc_stage, stage_meta, stamp_command
from runner.config.load import PipelineFile
from runner.config.models import CmdStage, OutFlags
from runner.layout import stage_stamp
from runner.project import interp
from runner.project.graph import Graph, Node, norm, out_path
from runner.project.paramsfile import params_location


def pipeline_vars(pfile: PipelineFile) -> list[Any]:
    """DVC's `vars:` of a pipeline's dvc.yaml, relative to its folder (`pipelines/<name>/`).

    The params file comes first when a custom stage refers to a param, so DVC
    fills `${...}` in when the stage runs and `dvc exp run -S` reaches it.
    """
    out: list[Any] = []
    refers = any(
        _param_refs(pfile, _cmd_texts(stage))
        for stage in pfile.model.stages.values()
        if isinstance(stage, CmdStage)
    )
    if refers:
        out.append(f"../../{params_location(pfile).file}")
    for spec in pfile.model.vars:
        out.append(f"../../{spec}" if isinstance(spec, str) else spec)
    return out


def _cmd_texts(stage: CmdStage) -> list[Any]:
    """Everything of a custom stage DVC interpolates: the command, paths and the loop."""
    return [
        stage.cmd,
        stage.deps,
        stage.outs,
        stage.metrics,
        stage.plots,
        stage.foreach,
        stage.matrix,
    ]


def _param_refs(pfile: PipelineFile, value: Any) -> list[str]:
    """The `${...}` in `value` that name the pipeline's params (not `item`, `key`, vars)."""
    params = pfile.model.params
    return [ref for ref in interp.refs(value) if ref.split(".", 1)[0] in params]


def cmd_stage(
    pfile: PipelineFile, sname: str, stage: CmdStage, node: Node, graph: Graph
) -> dict[str, Any]:
    name = pfile.name
    cmd: list[str] = [
        _render(pfile, c) for c in (stage.cmd if isinstance(stage.cmd, list) else [stage.cmd])
    ]
    outs = [_out(pfile, o) for o in stage.outs]
    if not (stage.outs or stage.metrics or stage.plots):
        # Something for the root stage to depend on, so `dvc repro` reaches this stage.
        stamp = stage_stamp(name, sname)
        cmd.append(stamp_command(stamp))
        outs.append({stamp: {"cache": False}})
    return dvc_stage(
        cmd=cmd[0] if len(cmd) == 1 else cmd,
        deps=_cmd_deps(pfile, stage, graph),
        params=_cmd_params(pfile, stage),
        outs=outs,
        metrics=[_out(pfile, o) for o in stage.metrics],
        plots=[_out(pfile, o) for o in stage.plots],
        meta={**stage.meta, **stage_meta(pfile, node)},
        desc=stage.desc,
        always_changed=stage.always_changed,
        frozen=stage.frozen,
        vars=stage.vars,
    )


def loop_stage(pfile: PipelineFile, source: str, graph: Graph) -> dict[str, Any]:
    """A `foreach`/`matrix` stage as DVC writes it: the loop, then the body."""
    stage = pfile.model.stages[source]
    assert isinstance(stage, CmdStage)
    first = next(n for n in graph.nodes.values() if n.pipeline == pfile.name and n.source == source)
    body = cmd_stage(pfile, source, stage, first, graph)
    if stage.foreach is not None:
        return {"foreach": _render_value(pfile, stage.foreach), "do": body}
    return {"matrix": _render_value(pfile, stage.matrix), **body}


def _cmd_deps(pfile: PipelineFile, stage: CmdStage, graph: Graph) -> list[str]:
    """The stage's own deps (as DVC will interpolate them) and the outputs of its needs."""
    needed = [
        out
        for node in graph.nodes.values()
        if node.pipeline == pfile.name and node.source in stage.needs
        for out in node.outs
    ]
    return sorted({*(norm(_render(pfile, d)) for d in stage.deps), *needed})


def _cmd_params(pfile: PipelineFile, stage: CmdStage) -> list[Any]:
    """`params:` of a custom stage: the keys it lists or its command refers to, in the
    pipeline's params file, then the params files the team keeps, as written."""
    where = params_location(pfile)
    used = {key for key in stage.params if isinstance(key, str)}
    used.update(_param_refs(pfile, [stage.cmd, stage.deps, stage.outs, stage.metrics, stage.plots]))
    out: list[Any] = [{where.file: sorted(where.key(key) for key in used)}] if used else []
    for spec in stage.params:
        if isinstance(spec, dict):
            file, keys = next(iter(spec.items()))
            if file == where.file and out and keys:
                out[0][file] = sorted({*out[0][file], *keys})
            else:
                out.append({file: keys})
    return out


def _render(pfile: PipelineFile, text: str) -> str:
    """`${key}` of the pipeline's params becomes the key DVC knows it by (`${<pipeline>.key}`
    when nested), filled in from the params file when the stage runs; `${item}`, `${key}`
    and vars stay as written; any other `${` is escaped, since DVC interpolates every one."""
    where = params_location(pfile)
    params = pfile.model.params
    parts: list[str] = []
    last = 0
    for match in interp.REF.finditer(text):
        parts.append(text[last : match.start()].replace("${", "\\${"))
        ref = match.group(1)
        parts.append(f"${{{where.key(ref) if ref.split('.', 1)[0] in params else ref}}}")
        last = match.end()
    parts.append(text[last:].replace("${", "\\${"))
    return "".join(parts)


def _render_value(pfile: PipelineFile, value: Any) -> Any:
    if isinstance(value, str):
        return _render(pfile, value)
    if isinstance(value, dict):
        return {key: _render_value(pfile, item) for key, item in value.items()}
    if isinstance(value, list):
        return [_render_value(pfile, item) for item in value]
    return value


def _out(pfile: PipelineFile, spec: str | dict[str, OutFlags]) -> Any:
    path = norm(_render(pfile, out_path(spec)))
    if isinstance(spec, str):
        return path
    flags = spec[out_path(spec)]
    given = flags.model_dump(exclude_defaults=True, exclude={"keys"})
    return {path: given} if given else path
