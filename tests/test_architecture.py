"""The shape of the code, checked: tiers, seams and names (STYLE.md).

`lint-imports` (run by scripts/test.sh) checks the import tiers; these tests check
what it does not: no import cycle between any two modules, lazy imports included;
one seam for subprocesses and one for git; nothing below the commands prints; and
no two classes that a newcomer could confuse share a name.
"""

from __future__ import annotations

import ast
import re
from collections import defaultdict
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "runner"
MODULES = sorted(p for p in SRC.rglob("*.py"))


def _name(path: Path) -> str:
    parts = path.relative_to(SRC.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports() -> dict[str, set[str]]:
    """Module -> the runner modules it imports anywhere (top level or inside functions)."""
    known = {_name(p) for p in MODULES}
    graph: dict[str, set[str]] = defaultdict(set)
    for path in MODULES:
        source = _name(path)
        for node in ast.walk(ast.parse(path.read_text("utf-8"))):
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                targets = [f"{node.module}.{a.name}" for a in node.names] + [node.module]
            for target in targets:
                # `from runner.x import y`: y may be a module or a name in x.
                while target and target not in known:
                    target = target.rpartition(".")[0]
                if target.startswith("runner") and target != source:
                    graph[source].add(target)
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for module in sorted(graph):
        if module not in index:
            visit(module)
    return found


def test_no_import_cycles_lazy_or_not() -> None:
    graph = _imports()
    # Parent packages import their children (`__init__` re-exports); a child importing its
    # own package's __init__ is not a cycle of behaviour, so only module-to-module edges
    # between non-ancestors count.
    graph = {
        m: {t for t in ts if not t.startswith(m + ".") and not m.startswith(t + ".")}
        for m, ts in graph.items()
    }
    assert _cycles(graph) == []


def _source(path: Path) -> str:
    return path.relative_to(SRC).as_posix()


# The stage process's own entry point and progress lines are its "command tier".
PRINTING_ALLOWED = ("cli.py", "commands/", "steps/__main__.py", "ml/progress.py")


@pytest.mark.parametrize("path", MODULES, ids=_source)
def test_only_the_command_tier_prints(path: Path) -> None:
    if _source(path).startswith(PRINTING_ALLOWED):
        return
    text = path.read_text("utf-8")
    assert not re.search(r"\bprint\(|sys\.std(out|err)\.write", text), _source(path)


@pytest.mark.parametrize("path", MODULES, ids=_source)
def test_subprocesses_only_through_proc(path: Path) -> None:
    if _source(path) == "proc.py":
        return
    tree = ast.parse(path.read_text("utf-8"))
    for block in ast.walk(tree):
        # Types for annotations only (`if TYPE_CHECKING:`) run nothing.
        if isinstance(block, ast.If) and ast.unparse(block.test) == "TYPE_CHECKING":
            block.body = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import | ast.ImportFrom):
            names = [a.name for a in node.names]
            module = getattr(node, "module", None) or ""
            assert "subprocess" not in names and module != "subprocess", _source(path)


@pytest.mark.parametrize("path", MODULES, ids=_source)
def test_git_runs_only_in_git_py(path: Path) -> None:
    if _source(path) == "git.py":
        return
    text = path.read_text("utf-8")
    assert not re.search(r"""\[\s*["']git["']\s*,""", text), _source(path)


def test_no_two_classes_share_a_name() -> None:
    where: dict[str, list[str]] = defaultdict(list)
    for path in MODULES:
        for node in ast.parse(path.read_text("utf-8")).body:
            if isinstance(node, ast.ClassDef):
                where[node.name].append(_source(path))
    assert {name: files for name, files in where.items() if len(files) > 1} == {}
