"""`mlops ci ACTION`: the steps of the generated workflows that are more than one call.

- collect PIPELINE... --dir DIR [--gate]: (pipeline job) copy the results and gate
  reports; with --gate, gate each pipeline first (a matrix job may run several)
- publish --dir DIR: (results job) commit the results, set statuses, update comments
- bundle PIPELINE --dir DIR: (release job) write the version tag of HEAD into a bundle
- push-tags --dir DIR: (tag job) push the version tags of the bundles in DIR
- requirements: write the hash-pinned requirements file `ci.install` names
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

from runner import __version__
from runner.ci import publish as results_job
from runner.ci import requirements, results, tags
from runner.ci.github import GitHubApi
from runner.commands.output import write_json
from runner.config.load import Workspace
from runner.config.models import DEFAULT_INSTALL
from runner.errors import CheckFailed, UsageError
from runner.fsutil import write_atomic
from runner.gates import report as render
from runner.gates.evaluate import default_base, gate_pipeline
from runner.pipeline import summary as last_run

NEEDS_PIPELINE = ("collect", "bundle")


def run(
    *,
    ws: Workspace,
    format: str,
    action: str,
    pipelines: list[str],
    folder: str | None,
    gate: bool,
) -> int:
    if gate and action != "collect":
        raise UsageError(
            f"--gate is an option of mlops ci collect, not of mlops ci {action}",
            "e.g. mlops ci collect iris --gate --dir mlops-results",
        )
    if len(pipelines) > 1 and action != "collect":
        raise UsageError(
            f"mlops ci {action} takes {'one pipeline' if action == 'bundle' else 'no pipeline'}, "
            f"not {len(pipelines)}",
            f"e.g. mlops ci {action}{' iris' if action == 'bundle' else ''} --dir DIR",
        )
    pipeline = pipelines[0] if pipelines else None
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
        return _collect(ws, format, pipelines, where, gate)
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


def _collect(ws: Workspace, format: str, pipelines: list[str], where: Path, gate: bool) -> int:
    for name in pipelines:
        ws.pipeline(name)  # every name known before anything is written
    summary = last_run.read(ws.root)
    # A failed or missing run leaves metrics that are not this run's: no gate, as the
    # workflow skips `mlops gate` when `mlops run` fails.
    finished = summary is not None and not summary.failed
    collected: list[dict[str, object]] = []
    lines: list[str] = []
    failed: list[str] = []
    for name in pipelines:
        gated = None
        if gate:
            gated = _gate(ws, name) if finished else (None, "")
        outcome = results.collect(ws, name, where, gated)
        if gate and outcome.gate is not None and outcome.gate.get("passed") is not True:
            failed.append(name)
        state = "gate ran" if outcome.gate is not None else "the gate did not run"
        collected.append({"pipeline": name, "files": list(outcome.files), "gate": state})
        lines.append(f"collected {len(outcome.files)} result file(s) of {name} ({state})")
    document: dict[str, object] = {"action": "collect", "collected": collected}
    if len(pipelines) == 1:
        document.update(pipeline=pipelines[0], files=collected[0]["files"])
    _done(format, document, "\n".join(lines))
    if gate and not finished:
        raise CheckFailed(
            "mlops run did not finish in this job: the gate did not run for "
            + ", ".join(pipelines),
            "see the run step's log",
        )
    if failed:
        raise CheckFailed(
            f"gate failed for {', '.join(failed)}", "see the gate reports in the job summary"
        )
    return 0


def _gate(ws: Workspace, name: str) -> tuple[dict[str, Any], str]:
    """Gate `name` as `mlops gate --step-summary` does; its JSON and Markdown reports."""
    result = gate_pipeline(ws, ws.pipeline(name), baseline_spec=None, base_ref=default_base(ws))
    report = render.markdown(result)
    summary_file = os.environ.get("GITHUB_STEP_SUMMARY")
    if summary_file:
        with open(summary_file, "a", encoding="utf-8") as fh:
            fh.write(report + "\n")
    return render.as_json(result), report


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
