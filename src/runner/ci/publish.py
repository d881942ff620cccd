"""The results job of a pull request: one results commit, statuses, comments.

It runs no pipeline code and holds no secret of the DVC remote. For a pull
request from the same repository it commits the results the pipeline jobs
collected to the pull request's branch (one commit for every pipeline), then
sets a `mlops/<pipeline>` commit status on the commit that will be merged (a push
made with the workflow's token starts no workflow, so without these the new
commit would carry no checks) and updates one comment per pipeline in place.
A pull request from a fork gets failing statuses that say a maintainer must run it.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

from runner import git
from runner.ci.github import GitHubApi
from runner.ci.results import Outcome, apply, read_outcomes
from runner.config.load import Workspace
from runner.errors import CheckFailed, ExternalCommandError, UsageError

# Who the results commit is by: GitHub's own bot identity for GITHUB_TOKEN pushes.
BOT = ("github-actions[bot]", "41898282+github-actions[bot]@users.noreply.github.com")
CHECK_CONTEXT = "mlops/check"


def context_of(pipeline: str) -> str:
    return f"mlops/{pipeline}"


def marker_of(pipeline: str) -> str:
    return f"<!-- mlops-gate:{pipeline} -->"


@dataclass(frozen=True)
class PullRequest:
    """The pull request a workflow run is for (from the variables the workflow sets)."""

    number: int
    head_ref: str
    head_repo: str
    repository: str
    run_url: str
    check_result: str
    affected: tuple[str, ...]

    @property
    def fork(self) -> bool:
        return self.head_repo != self.repository

    @classmethod
    def from_env(cls) -> PullRequest:
        env = os.environ
        names = ("PR_NUMBER", "HEAD_REF", "HEAD_REPO", "GITHUB_REPOSITORY")
        missing = [n for n in names if not env.get(n)]
        if missing or not env.get("PR_NUMBER", "").isdigit():
            raise UsageError(
                f"{', '.join(missing) or 'PR_NUMBER'} not set (or not a number): "
                "`mlops ci publish` runs in a pull request's workflow",
                "run it from the generated mlops-pr.yml, which sets them",
            )
        try:
            affected = json.loads(env.get("AFFECTED") or "[]")
        except ValueError:
            affected = None
        if not isinstance(affected, list) or not all(isinstance(a, str) for a in affected):
            raise UsageError(
                f"AFFECTED is not a JSON list of pipeline names: {env.get('AFFECTED')!r}",
                "it is the `pipelines` output of `mlops plan --format outputs`",
            )
        server = env.get("GITHUB_SERVER_URL", "https://github.com")
        run_id = env.get("GITHUB_RUN_ID", "")
        return cls(
            number=int(env["PR_NUMBER"]),
            head_ref=env["HEAD_REF"],
            head_repo=env["HEAD_REPO"],
            repository=env["GITHUB_REPOSITORY"],
            run_url=f"{server}/{env['GITHUB_REPOSITORY']}/actions/runs/{run_id}" if run_id else "",
            check_result=env.get("CHECK_RESULT", ""),
            affected=tuple(affected),
        )


@dataclass(frozen=True)
class PipelineStatus:
    pipeline: str
    passed: bool
    description: str
    comment: str | None  # None: the pipeline is not affected, no comment


@dataclass(frozen=True)
class Published:
    sha: str
    committed: list[str]  # the files of the results commit; [] when none was needed
    verdicts: list[PipelineStatus]
    check_passed: bool


FORK = (
    "pull request from a fork: not run with the DVC remote and its results not committed; "
    "a maintainer must run it"
)


def _verdict(pr: PullRequest, name: str, outcome: Outcome | None) -> PipelineStatus:
    if name not in pr.affected:
        return PipelineStatus(name, True, "not affected by this pull request", None)
    report = outcome.report if outcome else ""
    if pr.fork:
        note = (
            f"**{FORK}.** A fork's pull request gets no secrets and a read-only token. "
            "See docs/workflows.md, 'Pull requests from forks'."
        )
        return PipelineStatus(name, False, FORK, f"{note}\n\n{report}".rstrip() + "\n")
    if outcome is None or outcome.gate is None:
        failed = f" (failed: {', '.join(outcome.failed)})" if outcome and outcome.failed else ""
        why = f"the pipeline did not reach its gate{failed}; see the run"
        return PipelineStatus(name, False, why, f"❌ **{name}**: {why}.\n")
    gate = outcome.gate
    label = (gate.get("baseline") or {}).get("label") or "no baseline"
    if gate.get("passed") is True:
        return PipelineStatus(name, True, f"gate passed, compared with {label}", report)
    failed_checks = [c for c in gate.get("checks", []) if c.get("result") == "fail"]
    first = failed_checks[0] if failed_checks else {}
    why = f": {first.get('metric')} {first.get('rule')}" if first else ""
    return PipelineStatus(name, False, f"gate failed{why} (compared with {label})", report)


def publish(ws: Workspace, source: Path, pr: PullRequest, api: GitHubApi) -> Published:
    """Commit and push the results (same repository), then statuses and comments."""
    outcomes = read_outcomes(ws, source)
    head = git.rev_parse(ws.root, "HEAD") or ""
    committed: list[str] = []
    if not pr.fork:
        moved = sorted(n for n, o in outcomes.items() if o.head != head)
        if moved:
            raise CheckFailed(
                f"the results of {', '.join(moved)} are of another commit than {head[:7]}",
                "the branch moved while CI ran; the workflow of the newer push reports it",
            )
        ready = {n: o for n, o in outcomes.items() if o.gate is not None}
        committed = apply(ws, source, ready)
        if committed:
            names = ", ".join(sorted(ready))
            message = (
                f"mlops: results of {names}\n\n"
                f"dvc.lock, metrics and plots of the pipeline run in CI for {head[:7]}; "
                "the data and models are in the DVC remote.\n"
                + (f"\nRun: {pr.run_url}\n" if pr.run_url else "")
            )
            head = git.commit_files(ws.root, committed, message, BOT)
            try:
                git.push_head(ws.root, pr.head_ref)
            except ExternalCommandError as exc:
                why = exc.cause
                raise CheckFailed(
                    f"cannot push the results commit to {pr.head_ref}: {why}",
                    "if the branch moved while CI ran, the run of the newer push commits "
                    "the results; otherwise let the workflow's token push (docs/workflows.md)",
                ) from None
    check_passed = pr.check_result == "success"
    api.set_status(
        head,
        CHECK_CONTEXT,
        "success" if check_passed else "failure",
        "compile --check, validate and plan passed"
        if check_passed
        else f"compile --check, validate or plan: {pr.check_result or 'did not run'}",
        pr.run_url,
    )
    verdicts = [_verdict(pr, name, outcomes.get(name)) for name in sorted(ws.pipelines)]
    for v in verdicts:
        state = "success" if v.passed else "failure"
        api.set_status(head, context_of(v.pipeline), state, v.description, pr.run_url)
    for v in verdicts:
        if v.comment is None:
            continue
        outcome = outcomes.get(v.pipeline)
        if pr.fork or outcome is None or outcome.gate is None:
            tail = ""
        elif committed:
            tail = f"\n\nResults committed to this branch as {head[:7]}."
        else:
            tail = f"\n\nThe pull request carries these results ({head[:7]}): verified."
        api.upsert_comment(
            pr.number,
            marker_of(v.pipeline),
            f"{marker_of(v.pipeline)}\n{v.comment.rstrip()}{tail}\n",
        )
    return Published(head, committed, verdicts, check_passed)
