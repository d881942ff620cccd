"""The stage graph of every pipeline: what each stage reads and writes.

Built-in steps are wired implicitly (a `split` reads the `data` of the nearest
earlier stage that writes one) or through `needs:`; custom commands are wired
by their paths, as DVC does. Validation uses the graph to find cycles and
outputs written twice; compile uses it to write `deps` and `outs`.
"""

from __future__ import annotations

import bisect
import posixpath
import weakref
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace

from runner.config.load import Workspace
from runner.config.models import CmdStage, StepStage
from runner.config.steps import STEPS
from runner.errors import Problem
from runner.layout import stage_dir
from runner.project.sweep import stages_of

StageId = tuple[str, str]  # (pipeline, stage)


@dataclass(frozen=True)
class Node:
    pipeline: str
    name: str
    # Built-in steps: input name -> path, output name -> path.
    inputs: dict[str, str]
    outputs: dict[str, str]
    # Every path the stage reads / writes (normalized, repository-relative).
    deps: tuple[str, ...]
    outs: tuple[str, ...]
    upstream: tuple[StageId, ...]
    # The stage's name in the pipeline file (differs for a sweep variant's copy).
    source: str = ""

    @property
    def id(self) -> StageId:
        return (self.pipeline, self.name)


def out_path(spec: str | Mapping[str, object]) -> str:
    """The path of an `outs:`/`metrics:`/`plots:` entry (`- path` or `- path: {flags}`)."""
    return spec if isinstance(spec, str) else next(iter(spec))


def norm(path: str) -> str:
    return posixpath.normpath(path)


@dataclass
class Graph:
    nodes: dict[StageId, Node]
    problems: list[Problem]

    def order(self) -> list[StageId]:
        """Stages in declaration order (pipelines sorted by name)."""
        return list(self.nodes)


_GRAPHS: weakref.WeakKeyDictionary[Workspace, Graph] = weakref.WeakKeyDictionary()


def build_graph(ws: Workspace) -> Graph:
    """The stage graph of `ws`, built once per workspace (validation, compile and run share it)."""
    graph = _GRAPHS.get(ws)
    if graph is None:
        graph = _GRAPHS[ws] = _build(ws)
    return graph


def _build(ws: Workspace) -> Graph:
    problems: list[Problem] = []
    nodes: dict[StageId, Node] = {}
    for pname, pfile in ws.pipelines.items():
        doc = pfile.doc
        expanded = stages_of(pfile)
        stages = {name: item.stage for name, item in expanded.items()}
        names = list(stages)
        for index, (sname, stage) in enumerate(stages.items()):
            source_name = expanded[sname].source
            needs = [n for n in stage.needs if n in stages and n != sname]
            needs += [
                n
                for n, other in expanded.items()
                if other.source in stage.needs and other.loop_key is not None
            ]
            inputs: dict[str, str] = {}
            outputs: dict[str, str] = {}
            deps: list[str] = []
            outs: list[str] = []
            upstream: list[StageId] = [(pname, n) for n in needs]
            if isinstance(stage, StepStage) and stage.step in STEPS:
                spec = STEPS[stage.step]
                base = stage_dir(pname, sname)
                outputs = {key: f"{base}/{file}" for key, file in spec.outputs.items()}
                outs = list(outputs.values())
                for want in spec.inputs:
                    source = _provider(want, needs, names[:index], stages)
                    if source is None:
                        where = "the stages under needs:" if needs else "an earlier stage"
                        problems.append(
                            doc.problem(
                                ("stages", source_name),
                                f"stages.{source_name}: step '{stage.step}' needs '{want}' "
                                f"from {where}, and none writes it",
                                _provider_hint(want, source_name),
                                prefer_key=True,
                            )
                        )
                        continue
                    inputs[want] = _provided_path(pname, source, stages[source], want)
                    if (pname, source) not in upstream:
                        upstream.append((pname, source))
                deps = list(inputs.values())
                ingest_source = stage.with_.get("source") if stage.step == "ingest" else None
                if isinstance(ingest_source, str) and not ingest_source.startswith("sklearn:"):
                    deps.append(norm(ingest_source))
            elif isinstance(stage, CmdStage):
                deps = [norm(d) for d in stage.deps]
                for group in (stage.outs, stage.metrics, stage.plots):
                    outs.extend(norm(out_path(o)) for o in group)
            nodes[(pname, sname)] = Node(
                pname,
                sname,
                inputs,
                outputs,
                tuple(deps),
                tuple(outs),
                tuple(upstream),
                source_name,
            )
    graph = Graph(nodes, problems)
    _add_needed_outputs(graph, ws)
    _link_by_path(graph)
    _check_outputs(graph, ws)
    _check_cycles(graph, ws)
    return graph


def _provider(
    want: str, needs: list[str], earlier: list[str], stages: dict[str, StepStage | CmdStage]
) -> str | None:
    candidates = needs if needs else earlier
    for name in reversed(candidates):
        stage = stages[name]
        if isinstance(stage, StepStage) and want in _outputs_of(stage.step):
            return name
        if isinstance(stage, CmdStage) and want in stage.provides:
            return name
    return None


def _provided_path(pipeline: str, name: str, stage: StepStage | CmdStage, want: str) -> str:
    """The file of input `want` that stage `name` writes (a command names it in `provides:`)."""
    if isinstance(stage, CmdStage):
        return norm(stage.provides[want])  # type: ignore[index]
    return f"{stage_dir(pipeline, name)}/{STEPS[stage.step].outputs[want]}"


def _outputs_of(step: str) -> dict[str, str]:
    return STEPS[step].outputs if step in STEPS else {}


def _provider_hint(want: str, stage: str) -> str:
    makers = [s.name for s in STEPS.values() if want in s.outputs]
    return (
        f"add a stage with `step: {makers[0]}` before '{stage}', give a cmd stage "
        f"`provides: {{{want}: <one of its outs>}}`, or list the stage that writes '{want}' "
        "under needs:"
    )


def _add_needed_outputs(graph: Graph, ws: Workspace) -> None:
    """A custom stage reads every output of the stages it `needs:`."""
    for sid, node in list(graph.nodes.items()):
        stage = ws.pipelines[node.pipeline].model.stages[node.source]
        if not isinstance(stage, CmdStage) or not stage.needs:
            continue
        # A needed `foreach`/`matrix` stage is every one of its copies.
        extra = [
            out
            for other in graph.nodes.values()
            if other.pipeline == node.pipeline and other.source in stage.needs
            for out in other.outs
        ]
        deps = tuple(dict.fromkeys((*node.deps, *extra)))
        graph.nodes[sid] = replace(node, deps=deps)


def _ancestors(path: str) -> list[str]:
    """`a/b/c` -> [`a`, `a/b`]: the folders a path lies in."""
    path = path.rstrip("/")
    out = []
    cut = path.find("/")
    while cut != -1:
        out.append(path[:cut])
        cut = path.find("/", cut + 1)
    return out


class PathIndex:
    """Paths found by overlap with a given path: equal to it, inside it, or holding it.

    A dict answers "equal" and "holding" (one lookup per folder of the path), a
    sorted list "inside" (one bisection), so finding the writers of every dep is
    linear in the number of paths, not quadratic. The stage graph and `mlops plan`
    (`plan.reruns`) both find writers with it.
    """

    def __init__(self, paths: Iterable[str]) -> None:
        self._at: dict[str, list[int]] = {}  # the path itself -> its positions in `paths`
        for position, path in enumerate(paths):
            self._at.setdefault(path.rstrip("/"), []).append(position)
        self._sorted = sorted(self._at)

    def overlapping(self, path: str) -> list[int]:
        """Positions of the paths equal to `path`, inside it, or holding it, in order."""
        key = path.rstrip("/")
        at = self._at
        found = list(at.get(key, ()))
        for folder in _ancestors(key):
            found += at.get(folder, ())
        inside = f"{key}/"
        index = bisect.bisect_left(self._sorted, inside)
        while index < len(self._sorted) and self._sorted[index].startswith(inside):
            found += at[self._sorted[index]]
            index += 1
        return sorted(set(found)) if len(found) > 1 else found


def _link_by_path(graph: Graph) -> None:
    """Add an edge wherever a stage reads a path another stage writes (as DVC does)."""
    writers = [node.id for node in graph.nodes.values() for _ in node.outs]
    index = PathIndex(out for node in graph.nodes.values() for out in node.outs)
    for sid, node in list(graph.nodes.items()):
        extra = [
            writers[position]
            for dep in node.deps
            for position in index.overlapping(dep)
            if writers[position] != sid
        ]
        if extra:
            merged = tuple(dict.fromkeys((*node.upstream, *extra)))
            graph.nodes[sid] = replace(node, upstream=merged)


def _check_outputs(graph: Graph, ws: Workspace) -> None:
    seen = [(out, node.id) for node in graph.nodes.values() for out in node.outs]
    index = PathIndex(out for out, _ in seen)
    position = -1
    for node in graph.nodes.values():
        doc = ws.pipelines[node.pipeline].doc
        for out in node.outs:
            position += 1
            earlier = index.overlapping(out)
            if earlier[0] < position:  # report against the first one written
                other, owner = seen[earlier[0]]
                same = out == other
                what = "also writes" if same else "writes an overlapping path"
                graph.problems.append(
                    doc.problem(
                        ("stages", node.source),
                        f"stages.{node.source}: {what} '{out}'"
                        + ("" if same else f" (and '{other}')")
                        + f", already written by {owner[0]}:{owner[1]}",
                        "each output must come from exactly one stage; rename one of them",
                        prefer_key=True,
                    )
                )


def _check_cycles(graph: Graph, ws: Workspace) -> None:
    state: dict[StageId, int] = {}  # 1 = on the stack, 2 = done
    reported: set[StageId] = set()

    def visit(sid: StageId, stack: list[StageId]) -> None:
        state[sid] = 1
        stack.append(sid)
        for up in graph.nodes[sid].upstream:
            if up not in graph.nodes:
                continue
            if state.get(up) == 1:
                cycle = [*stack[stack.index(up) :], up]
                first = min(cycle[:-1])
                if first not in reported:  # one report per stage is enough to act on
                    reported.add(first)
                    # Show the cycle in the direction data flows, starting at `first`.
                    ring = list(reversed(cycle[:-1]))
                    start = ring.index(first)
                    ring = ring[start:] + ring[:start] + [first]
                    shown = " -> ".join(f"{p}:{s}" for p, s in ring)
                    doc = ws.pipelines[first[0]].doc
                    graph.problems.append(
                        doc.problem(
                            ("stages", graph.nodes[first].source),
                            f"stages.{graph.nodes[first].source}: dependency cycle: {shown}",
                            "a stage cannot depend on its own output; break the loop in "
                            "needs:, deps: or outs:",
                            prefer_key=True,
                        )
                    )
            elif up not in state:
                visit(up, stack)
        stack.pop()
        state[sid] = 2

    for sid in graph.nodes:
        if sid not in state:
            visit(sid, [])
