"""`mlops ci ACTION`: the steps of the generated workflows that are more than one call.

- collect PIPELINE --dir DIR: (pipeline job) copy the results and gate reports
- publish --dir DIR: (results job) commit the results, set statuses, update comments
- bundle PIPELINE --dir DIR: (release job) write the version tag of HEAD into a bundle
- push-tags --dir DIR: (tag job) push the version tags of the bundles in DIR
"""

from __future__ import annotations

import sys
from pathlib import Path

from runner.ci import publish as results_job
from runner.ci import results, tags
from runner.ci.github import GitHubApi
from runner.commands.output import write_json
from runner.config.load import Workspace
from runner.errors import CheckFailed, UsageError

NEEDS_PIPELINE = ("collect", "bundle")


def run(*, ws: Workspace, format: str, action: str, pipeline: str | None, folder: str) -> int:
    if (pipeline is None) == (action in NEEDS_PIPELINE):
        usage = f"mlops ci {action} PIPELINE" if action in NEEDS_PIPELINE else f"mlops ci {action}"
        raise UsageError(
            f"mlops ci {action} {'needs a' if pipeline is None else 'takes no'} pipeline",
            f"usage: {usage} --dir {folder}",
        )
    where = Path(folder)
    if action == "collect":
        assert pipeline is not None
        outcome = results.collect(ws, pipeline, where)
        state = "gate ran" if outcome.gate is not None else "the gate did not run"
        return _done(
            format,
            {"action": action, "pipeline": pipeline, "files": list(outcome.files)},
            f"collected {len(outcome.files)} result file(s) of {pipeline} ({state})",
        )
    if action == "bundle":
        assert pipeline is not None
        tag, path = tags.bundle(ws, pipeline, where)
        return _done(
            format,
            {"action": action, "tag": tag, "bundle": str(path)},
            f"bundled {tag} into {path}",
        )
    if action == "push-tags":
        pushed = tags.push_tags(ws, where)
        return _done(format, {"action": action, "pushed": pushed}, f"pushed {', '.join(pushed)}")
    pr = results_job.PullRequest.from_env()
    done = results_job.publish(ws, where, pr, GitHubApi.from_env())
    lines = []
    if done.committed:
        lines.append(f"committed the results as {done.sha[:7]}: {', '.join(done.committed)}")
    elif not pr.fork:
        lines.append(f"the pull request carries its results ({done.sha[:7]}): nothing to commit")
    for v in done.verdicts:
        state = "success" if v.passed else "failure"
        lines.append(f"{results_job.context_of(v.pipeline)}: {state}: {v.description}")
    _done(
        format,
        {
            "action": action,
            "sha": done.sha,
            "committed": done.committed,
            "statuses": {results_job.context_of(v.pipeline): v.passed for v in done.verdicts},
        },
        "\n".join(lines),
    )
    failed = [v for v in done.verdicts if not v.passed]
    if failed:
        first = failed[0]
        raise CheckFailed(
            f"{results_job.context_of(first.pipeline)}: {first.description}",
            "see the pull request's comment and the run's log",
        )
    if not done.check_passed:
        raise CheckFailed(
            f"{results_job.CHECK_CONTEXT}: {pr.check_result or 'did not run'}",
            "see the `compile, validate, plan` job",
        )
    return 0


def _done(format: str, data: dict[str, object], text: str) -> int:
    if format == "json":
        write_json(data, sort_keys=True)
    else:
        sys.stdout.write(text + "\n")
    return 0
