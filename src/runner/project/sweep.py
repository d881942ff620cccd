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
    return [*interp.refs(stage.cmd), *stage.params]


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
        return {name: Expanded(stage, name) for name, stage in pipeline.stages.items()}
    swept = affected(pipeline)
    ups = upstream(pipeline)
    grid = variants(pipeline.sweep)
    out: dict[str, Expanded] = {}
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
