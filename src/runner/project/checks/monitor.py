"""Cross-file checks of a pipeline's `monitor:` section."""

from __future__ import annotations

from runner.config.load import PipelineFile
from runner.errors import Problem, did_you_mean


def check_monitor(pfile: PipelineFile) -> list[Problem]:
    """`monitor:` needs `deploy:`, and watches only environments the model deploys to."""
    monitor, deploy, doc = pfile.model.monitor, pfile.model.deploy, pfile.doc
    if monitor is None:
        return []
    if deploy is None:
        return [
            doc.problem(
                ("monitor",),
                "monitor: the pipeline deploys no model to monitor",
                "add a deploy: section (model and environments), or remove monitor:",
            )
        ]
    out: list[Problem] = []
    for i, env in enumerate(monitor.environments or []):
        if env not in deploy.environments:
            out.append(
                doc.problem(
                    ("monitor", "environments", i),
                    f"monitor.environments: the model is not deployed to '{env}'"
                    + did_you_mean(env, deploy.environments),
                    f"deploy.environments: {', '.join(deploy.environments)}",
                )
            )
    return out
