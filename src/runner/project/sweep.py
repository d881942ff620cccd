"""Parameter sweeps: one copy of each affected stage per point of the grid.

```yaml
sweep:
  train.max_depth: [2, 5]
  train.n_estimators: [50, 100]
```

expands to four variants. A stage is affected when its options refer to a
swept param, or when it reads the output of an affected stage; every other
stage runs once and is shared. Copies are named `<stage>-<variant>` (e.g.
`train-max_depth-2-n_estimators-50`), wired to the copies of their own
variant through explicit `needs:`, and carry their param values as
`overrides`, which the step applies over `params.yaml` at run time.

A custom stage with `foreach:` or `matrix:` expands as DVC expands it, into
`<stage>@<key>` copies with `${item}` and `${key}` filled in; compile writes
DVC's own `foreach`/`matrix` back, and the copies give the stage graph its paths.
"""

from __future__ import annotations

import itertools
import re
import weakref
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from runner.config.dotted import assign
from runner.config.load import PipelineFile
from runner.config.models import CmdStage, Pipeline, Stage, StepStage
from runner.config.steps import STEPS
from runner.project import interp


@dataclass(frozen=True)
class Variant:
    name: str
    values: dict[str, Any]  # dotted param key -> value


@dataclass(frozen=True)
class Expanded:
    """One stage as compiled: a plain stage, or one variant's copy of a swept stage."""

    stage: Stage
    source: str  # the stage's name in the pipeline file
    variant: Variant | None = None
    overrides: dict[str, Any] = field(default_factory=dict)
    # For one copy of a `foreach:`/`matrix:` stage: DVC's key (`<stage>@<key>`).
    loop_key: str | None = None


def _slug(value: Any) -> str:
    text = str(value).lower()
    return re.sub(r"[^a-z0-9]+", "_", text).strip("_")


def variants(sweep: Mapping[str, list[Any]]) -> list[Variant]:
    """Every point of the grid, in declaration order, with unique readable names."""
    keys = list(sweep)
    out: list[Variant] = []
    seen: set[str] = set()
    for index, combo in enumerate(itertools.product(*(sweep[k] for k in keys)), start=1):
        parts = []
        for key, value in zip(keys, combo, strict=True):
            slug = _slug(value) or f"v{index}"
            parts.append(f"{key.rsplit('.', 1)[-1]}-{slug}")
        name = "-".join(parts)
        if name in seen:
            name = f"{name}-{index}"
        seen.add(name)
        out.append(Variant(name, dict(zip(keys, combo, strict=True))))
    return out


def with_overrides(params: Mapping[str, Any], values: Mapping[str, Any]) -> dict[str, Any]:
    """A deep copy of `params` with each dotted key set to its value."""
    out: dict[str, Any] = _copy(params)
    for key, value in values.items():
        assign(out, key, value)
    return out


def _copy(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {k: _copy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_copy(v) for v in value]
    return value


def _touches(ref: str, key: str) -> bool:
    """Does reading `ref` read swept `key`? (`train` reads `train.max_depth`.)"""
    return key == ref or key.startswith(ref + ".") or ref.startswith(key + ".")


def _refs(stage: Stage) -> list[str]:
    if isinstance(stage, StepStage):
        return list(interp.refs(stage.with_))
    return [*interp.refs(stage.cmd), *(key for key in stage.params if isinstance(key, str))]


def upstream(pipeline: Pipeline) -> dict[str, list[str]]:
    """For each stage, the stages of this pipeline whose outputs it reads by name."""
    names = list(pipeline.stages)
    out: dict[str, list[str]] = {}
    for index, (name, stage) in enumerate(pipeline.stages.items()):
        ups = [n for n in stage.needs if n in pipeline.stages and n != name]
        if isinstance(stage, StepStage) and stage.step in STEPS:
            pool = ups or names[:index]
            for want in STEPS[stage.step].inputs:
                for candidate in reversed(pool):
                    other = pipeline.stages[candidate]
                    if (
                        isinstance(other, StepStage)
                        and other.step in STEPS
                        and want in STEPS[other.step].outputs
                    ) or (isinstance(other, CmdStage) and want in other.provides):
                        if candidate not in ups:
                            ups.append(candidate)
                        break
        out[name] = ups
    return out


def affected(pipeline: Pipeline) -> list[str]:
    """Stages that run once per variant, in pipeline order."""
    keys = list(pipeline.sweep)
    ups = upstream(pipeline)
    hit: list[str] = []
    for name, stage in pipeline.stages.items():
        direct = any(_touches(ref, key) for ref in _refs(stage) for key in keys)
        if direct or any(u in hit for u in ups[name]):
            hit.append(name)
    return hit


_EXPANDED: weakref.WeakKeyDictionary[PipelineFile, Mapping[str, Expanded]] = (
    weakref.WeakKeyDictionary()
)


def stages_of(pfile: PipelineFile) -> Mapping[str, Expanded]:
    """`expand(pfile.model)`, once per loaded pipeline file (graph, compile and gate share it)."""
    expanded = _EXPANDED.get(pfile)
    if expanded is None:
        expanded = _EXPANDED[pfile] = MappingProxyType(expand(pfile.model))
    return expanded


def expand(pipeline: Pipeline) -> dict[str, Expanded]:
    """The stages to compile, with swept stages copied once per variant."""
    if not pipeline.sweep:
        out: dict[str, Expanded] = {}
        for name, stage in pipeline.stages.items():
            if isinstance(stage, CmdStage):
                out.update(_expand_cmd(pipeline, name, stage))
            else:
                out[name] = Expanded(stage, name)
        return out
    swept = affected(pipeline)
    ups = upstream(pipeline)
    grid = variants(pipeline.sweep)
    out = {}
    for name, stage in pipeline.stages.items():
        if name not in swept:
            out[name] = Expanded(stage, name)
        elif name == swept[0]:
            # The whole swept part of the pipeline, one variant after another.
            for variant in grid:
                for source in swept:
                    original = pipeline.stages[source]
                    needs = [f"{u}-{variant.name}" if u in swept else u for u in ups[source]]
                    copy = original.model_copy(update={"needs": needs})
                    out[f"{source}-{variant.name}"] = Expanded(
                        copy, source, variant, dict(variant.values)
                    )
    return out


def inline_vars(pipeline: Pipeline, stage: CmdStage | None = None) -> dict[str, Any]:
    """The values given inline under `vars:` (the pipeline's, then the stage's)."""
    out: dict[str, Any] = {}
    for spec in [*pipeline.vars, *(stage.vars if stage is not None else [])]:
        if isinstance(spec, dict):
            out.update(spec)
    return out


def path_context(pipeline: Pipeline, stage: CmdStage) -> dict[str, Any]:
    """What a `${...}` in a path may name: params and inline vars (files are the team's)."""
    return {**pipeline.params, **inline_vars(pipeline, stage)}


def loop_items(stage: CmdStage, context: Mapping[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """(DVC's key, the `${item}`/`${key}` values) for each copy of a foreach/matrix stage.

    Keys follow DVC: a list of scalars is keyed by the values, a list of anything
    else by position, a mapping by its keys; a matrix joins one part per name
    with `-` (a scalar's text, else the name and the position).
    Raises `interp.RefError` when a `${...}` does not name a list or mapping.
    """
    if stage.foreach is not None:
        items = _iterable(stage.foreach, context)
        if isinstance(items, dict):
            return [(str(k), {"item": v, "key": k}) for k, v in items.items()]
        scalars = all(not isinstance(v, (dict, list)) for v in items)
        return [
            (interp.as_text(v) if scalars else str(i), {"item": v}) for i, v in enumerate(items)
        ]
    if stage.matrix is not None:
        axes: list[list[tuple[str, Any]]] = []
        for name, values in stage.matrix.items():
            found = _iterable(values, context)
            if isinstance(found, dict):
                raise interp.RefError(str(values), "matrix values must be a list")
            axes.append(
                [
                    (
                        f"{name}{i}" if isinstance(v, (dict, list)) else interp.as_text(v),
                        v,
                    )
                    for i, v in enumerate(found)
                ]
            )
        names = list(stage.matrix)
        return [
            (
                "-".join(part for part, _ in combo),
                {"item": {n: v for n, (_, v) in zip(names, combo, strict=True)}},
            )
            for combo in itertools.product(*axes)
        ]
    return []


def _iterable(value: Any, context: Mapping[str, Any]) -> list[Any] | dict[str, Any]:
    if isinstance(value, str):
        whole = interp.REF.fullmatch(value.strip())
        if whole is None:
            raise interp.RefError(value, "give a list, a mapping or one ${...} reference")
        value = interp.lookup(context, whole.group(1))
        if not isinstance(value, (list, dict)):
            raise interp.RefError(whole.group(1), "is neither a list nor a mapping")
    return value  # type: ignore[no-any-return]


def _expand_cmd(pipeline: Pipeline, name: str, stage: CmdStage) -> dict[str, Expanded]:
    """The stage with its paths' `${...}` filled in; one copy per item for a loop.

    A reference that cannot be filled is left as written: validation reports it.
    """
    context = path_context(pipeline, stage)
    if stage.foreach is None and stage.matrix is None:
        return {name: Expanded(_with_paths(stage, context), name)}
    try:
        items = loop_items(stage, context)
    except interp.RefError:
        return {name: Expanded(stage, name)}
    return {
        f"{name}@{key}": Expanded(
            _with_paths(stage, {**context, **local}, cmd=True), name, loop_key=key
        )
        for key, local in items
    }


def _with_paths(stage: CmdStage, context: Mapping[str, Any], *, cmd: bool = False) -> CmdStage:
    def filled(value: Any) -> Any:
        try:
            return interp.fill(value, context)
        except interp.RefError:
            return value

    update: dict[str, Any] = {
        "deps": filled(stage.deps),
        "outs": filled(stage.outs),
        "metrics": filled(stage.metrics),
        "plots": filled(stage.plots),
        "provides": filled(stage.provides),
    }
    if cmd:
        update["cmd"] = filled(stage.cmd)
    if all(update[key] == getattr(stage, key) for key in update):
        return stage
    return stage.model_copy(update=update)
