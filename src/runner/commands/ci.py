"""`mlops ci ACTION`: the steps of the generated workflows that are more than one call.

- collect PIPELINE --dir DIR: (pipeline job) copy the results and gate reports
- publish --dir DIR: (results job) commit the results, set statuses, update comments
- bundle PIPELINE --dir DIR: (release job) write the version tag of HEAD into a bundle
- push-tags --dir DIR: (tag job) push the version tags of the bundles in DIR
- requirements: write the hash-pinned requirements file `ci.install` names
"""

from __future__ import annotations

import sys
from pathlib import Path

from runner import __version__
from runner.ci import publish as results_job
from runner.ci import requirements, results, tags
from runner.ci.github import GitHubApi
from runner.commands.output import write_json
from runner.config.load import Workspace
from runner.config.models import DEFAULT_INSTALL
from runner.errors import CheckFailed, UsageError
from runner.fsutil import write_atomic

NEEDS_PIPELINE = ("collect", "bundle")


def run(
    *, ws: Workspace, format: str, action: str, pipeline: str | None, folder: str | None
) -> int:
    if action == "requirements":
        if pipeline is not None or folder is not None:
            raise UsageError(
                "mlops ci requirements takes no pipeline and no --dir",
                "it writes the file ci.install names: mlops ci requirements",
            )
        written = _requirements(ws)
        return _done(format, {"action": action, "written": written}, f"wrote {written}")
    if folder is None:
        raise UsageError(f"mlops ci {action} needs --dir", f"e.g. mlops ci {action} --dir DIR")
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


def _requirements(ws: Workspace) -> str:
    kind, target = ws.project.ci.install_spec
    if kind != "file":
        raise UsageError(
            f"ci.install is the {kind} '{target}': only a requirements file is written",
            f"remove ci.install to use {DEFAULT_INSTALL}, or set it to a *.txt file",
        )
    folder = requirements.from_folder(requirements.DISTRIBUTION)
    if folder:
        raise CheckFailed(
            f"{requirements.DISTRIBUTION} is installed from the folder {folder}, not from a "
            "package index: there is no published hash to pin",
            f"install it from the index (pip install {requirements.DISTRIBUTION}=="
            f"{__version__}) and run this again, or set ci.install to a path in the repository",
        )
    project = ws.project
    kinds = {env.target.kind for env in project.environments.values()}
    if project.storage:
        kinds |= {r.scheme for r in project.storage.remotes.values() if r.scheme}
    extras = ["s3"] if "s3" in kinds else []
    pins = requirements.closure(requirements.DISTRIBUTION, extras)
    text = requirements.render(pins, requirements.hashes(pins.values(), ws.root), extras)
    path = ws.root / target
    if path.exists() and not path.read_text("utf-8").startswith(requirements.GENERATED):
        raise CheckFailed(
            f"{target} exists and was not written by `mlops ci requirements`; not replacing it",
            "move it away, or set ci.install to another *.txt file",
        )
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(path, text)
    return target


def _done(format: str, data: dict[str, object], text: str) -> int:
    if format == "json":
        write_json(data, sort_keys=True)
    else:
        sys.stdout.write(text + "\n")
    return 0
