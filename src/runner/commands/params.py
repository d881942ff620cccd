"""`mlops params pull`: write params.yaml values changed through DVC into pipelines/*.yaml."""

from __future__ import annotations

import json
import sys

from runner.commands.output import write_json
from runner.compile.paramsync import pull
from runner.config.load import Workspace
from runner.layout import PARAMS_FILE, pipeline_file


def run(*, ws: Workspace, format: str, action: str) -> int:
    # `pull` is the only action (argparse enforces the choice).
    pulled = pull(ws)
    if format == "json":
        write_json(
            {
                "pulled": [
                    {"pipeline": p.pipeline, "key": p.key, "old": p.old, "new": p.new}
                    for p in pulled
                ]
            }
        )
        return 0
    if not pulled:
        sys.stdout.write(f"nothing to pull: {PARAMS_FILE} agrees with the pipeline files\n")
        return 0
    for p in pulled:
        old = "(new)" if p.old is None else json.dumps(p.old)
        sys.stdout.write(
            f"{pipeline_file(p.pipeline)}: params.{p.key}: {old} -> {json.dumps(p.new)}\n"
        )
    sys.stdout.write("next: mlops compile, then review and commit the YAML diff\n")
    return 0
