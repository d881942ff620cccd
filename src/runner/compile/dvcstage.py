"""One DVC stage as compile writes it: the key order, the `meta` pointing back at the
pipeline file, and the commands of the tool's own stage process."""

from __future__ import annotations

import shlex
from typing import Any

from runner.config.load import PipelineFile
from runner.project.graph import Node

STEP_CMD = "python -m runner.steps"


def stage_meta(pfile: PipelineFile, node: Node) -> dict[str, Any]:
    line = pfile.doc.keys[("stages", node.source)].line
    return {"source": f"{pfile.doc.path}:{line}"}


def stamp_command(stamp: str) -> str:
    """The command that leaves `stamp` after a custom stage without outputs ran."""
    return f"{STEP_CMD} --stamp {shlex.quote(stamp)}"


def dvc_stage(**fields: Any) -> dict[str, Any]:
    """A DVC stage with DVC's key order and empty keys dropped."""
    order = (
        "cmd",
        "wdir",
        "deps",
        "params",
        "outs",
        "metrics",
        "plots",
        "frozen",
        "always_changed",
    )
    stage: dict[str, Any] = {"cmd": fields["cmd"], "wdir": "../.."}
    if fields.get("vars"):
        # A stage's own vars are read relative to its wdir, the project root.
        stage = {"vars": fields["vars"], **stage}
    for key in order[2:]:
        value = fields.get(key)
        if value:
            stage[key] = value
    if fields.get("desc"):
        stage["desc"] = fields["desc"]
    stage["meta"] = fields["meta"]
    return stage
