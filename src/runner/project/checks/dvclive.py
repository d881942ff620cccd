"""dvclive beside compiled pipelines: `Live()` must not write the root `dvc.yaml`.

With its defaults, dvclive's `Live()` adds `metrics:`, `plots:`, `params:` and
`artifacts:` to the root `dvc.yaml` while `dvc repro` runs. That file is
generated: `mlops compile --check` would then fail, and the next compile would
erase the sections again, on every run. So `validate` reads the Python scripts a
custom stage runs and points at each `Live(...)` call that does not pass
`dvcyaml=False` (or `None`), with the change to make.
"""

from __future__ import annotations

import ast
import shlex

from runner.config.load import PipelineFile, Workspace
from runner.config.models import CmdStage
from runner.errors import Problem
from runner.project.sweep import stages_of

HINT = (
    "write Live(dvcyaml=False) and declare what it writes in the stage: "
    "metrics: [dvclive/metrics.json: {cache: false}], plots: [dvclive/plots: {cache: false}]"
)


def scripts(stage: CmdStage) -> list[str]:
    """The .py files a custom stage runs or reads: its deps and the words of its command."""
    found = [d for d in stage.deps if d.endswith(".py")]
    for text in stage.cmd if isinstance(stage.cmd, list) else [stage.cmd]:
        try:
            words = shlex.split(text)
        except ValueError:
            words = text.split()
        found += [w for w in words if w.endswith(".py")]
    return list(dict.fromkeys(found))


def check_dvclive(ws: Workspace, pfile: PipelineFile) -> list[Problem]:
    """A problem at each `Live(...)` call, in a script a custom stage runs, that would
    write the root dvc.yaml."""
    out: list[Problem] = []
    seen: set[str] = set()
    for item in stages_of(pfile).values():
        if not isinstance(item.stage, CmdStage):
            continue
        for rel in scripts(item.stage):
            if rel in seen or "${" in rel:
                continue
            seen.add(rel)
            out += _check_script(ws, rel, f"{pfile.doc.path}: stages.{item.source}")
    return out


def _check_script(ws: Workspace, rel: str, used_by: str) -> list[Problem]:
    path = ws.root / rel
    try:
        text = path.read_text("utf-8")
    except (OSError, UnicodeDecodeError):
        return []  # not in the work tree (yet): nothing to read
    if "Live" not in text:
        return []
    try:
        tree = ast.parse(text, filename=rel)
    except (SyntaxError, ValueError):
        return []  # Python reports that itself when the stage runs
    lines = text.splitlines()
    out = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call) or _name(node.func) != "Live":
            continue
        given = next((k for k in node.keywords if k.arg == "dvcyaml"), None)
        off = (
            given is not None
            and isinstance(given.value, ast.Constant)
            and given.value.value in (False, None)
        )
        if off:
            continue
        out.append(
            Problem(
                rel,
                node.lineno,
                node.col_offset + 1,
                f"Live() writes metrics and plots into the root dvc.yaml during dvc repro "
                f"(run by {used_by}); compile owns that file, so `mlops compile --check` "
                "fails and the next compile erases them",
                HINT,
                lines[node.lineno - 1] if node.lineno <= len(lines) else None,
            )
        )
    return out


def _name(func: ast.expr) -> str | None:
    if isinstance(func, ast.Name):
        return func.id
    if isinstance(func, ast.Attribute):
        return func.attr
    return None
