"""`mlops run [PIPELINE...]`: compile if needed, reproduce through DVC, summarise."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from yaml import YAMLError

from runner import git, proc, yamlio
from runner.compile import generated
from runner.config.load import Workspace
from runner.errors import CheckFailed, ExternalCommandError, UsageError
from runner.fsutil import hold_lock
from runner.layout import ROOT_DVC_LOCK, RUN_LOCK, pipeline_dvc_lock
from runner.pipeline import repro
from runner.pipeline import summary as last_run
from runner.pipeline.repro import ReproOutcome, StageEvent, StartedRepro, explain_failure
from runner.pipeline.runcache import unshared
from runner.pipeline.status import StatusCheck
from runner.pipeline.summary import RunSummary
from runner.project.graph import build_graph
from runner.project.shards import Shard, parse_shard, shard_size, shard_stages
from runner.registry import artifact


def run(
    *,
    ws: Workspace,
    format: str,
    pipelines: list[str],
    no_run_cache: bool,
    force: bool,
    pull: bool,
    locked: bool,
    shard: str | None,
    push: bool,
) -> int:
    for name in pipelines:
        ws.pipeline(name)
    part = sharded(ws, pipelines, shard) if shard is not None else None
    # Only a shard's variants (and the shared stages they read).
    targets = (
        repro.pipeline_targets(pipelines)
        if part is None
        else shard_stages(ws.pipelines[pipelines[0]], part)
    )
    started = repro.prestarted()
    try:
        return _run(
            ws, format, pipelines, targets, started, part, no_run_cache, force, pull, locked, push
        )
    finally:
        started.cancel()  # when it never ran (nothing happens when it did)


def _run(
    ws: Workspace,
    format: str,
    pipelines: list[str],
    targets: list[str],
    started: StartedRepro,
    part: Shard | None,
    no_run_cache: bool,
    force: bool,
    pull: bool,
    locked: bool,
    push: bool,
) -> int:
    if generated.finish_interrupted(ws):
        _say("compiled: finished the files of an interrupted compile")
    _, pending = generated.changes(ws)
    generated.apply(ws, pending)
    written = [c.path for c in pending if not c.remove]
    removed = [c.path for c in pending if c.remove]
    if written:
        _say(f"compiled: updated {', '.join(written)}")
    if removed:
        _say(f"compiled: removed {', '.join(removed)} (their pipelines are gone)")
    chosen = pipelines or list(ws.pipelines)
    count = sum(1 for sid in build_graph(ws).nodes if sid[0] in chosen) + len(chosen)
    progress = _Progress(count)
    if part is not None:
        mine, total = shard_size(ws.pipelines[pipelines[0]], part)
        _say(f"shard {part} of {pipelines[0]}: {mine} of its {total} sweep variants")
        if not targets:
            return 0
    if pull:
        _pull(ws, targets, run_cache=not no_run_cache)
    # Compile refuses to rewrite the files the stages read while this lock is held.
    check = StatusCheck()

    def event(event: StageEvent) -> None:
        progress.event(event)
        # Something changes, so `dvc status` will be asked after: start it while the
        # last stages run (not sooner: the first ones share the cores with the fork
        # server's imports).
        if event.kind in ("start", "restored") and progress.seen >= progress.total - 2:
            check.prepare()

    try:
        with hold_lock(ws.root / RUN_LOCK):
            args = repro.repro_args(targets, run_cache=not no_run_cache, force=force, pull=pull)
            outcome = started.finish(ws.root, args, event)
            stale = check.changed(ws.root, targets) if _worth_checking(outcome, count) else []
    finally:
        check.cancel()  # when it was not needed (nothing happens when it ran)
    summary = RunSummary(
        ran=tuple(outcome.ran),
        restored=tuple(outcome.restored),
        unchanged=tuple(outcome.unchanged),
        failed=tuple(outcome.failed),
        seconds=round(outcome.seconds, 1),
        metrics=_metrics(ws, chosen) if outcome.returncode == 0 else {},
    )
    # `mlops gate` reports which stages ran and which came from the cache.
    last_run.write(ws.root, summary)
    if format == "json":
        sys.stdout.write(summary.dumps())
    elif format == "text":
        sys.stdout.write(_summary_text(summary))
    if outcome.returncode != 0:
        cause, hint = explain_failure(outcome, ws.root)
        raise CheckFailed(cause, hint)
    if stale:
        raise CheckFailed(
            f"dvc status still lists {len(stale)} changed stage(s) after the run: "
            f"{', '.join(stale)}; the summary above is not to be trusted",
            "run `dvc status` to see what changed, then `mlops run` again; if it persists, "
            "report it as a bug in mlops-runner",
        )
    if locked:
        _require_unchanged(ws, chosen)
    if push:
        _push(ws, targets, run_cache=not no_run_cache)
    return 0


def _worth_checking(outcome: ReproOutcome, stages: int) -> bool:
    """Whether to ask `dvc status` if the run left anything changed.

    Not when DVC itself said of every stage that it did not change and ran or
    restored nothing: `dvc status` would run the same comparison again in a
    second DVC process, half the cost of a no-op `mlops run`.
    """
    if outcome.returncode != 0:
        return False
    quiet = not outcome.ran and not outcome.restored and not outcome.failed
    return not (quiet and len(set(outcome.unchanged)) >= stages)


def sharded(ws: Workspace, pipelines: list[str], text: str) -> Shard:
    """The shard `--shard` names, for the one pipeline with a sweep it must come with."""
    part = parse_shard(text)
    if len(pipelines) != 1 or not ws.pipelines[pipelines[0]].model.sweep:
        which = pipelines[0] if len(pipelines) == 1 else "PIPELINE"
        raise UsageError(
            f"--shard {text}: shards split one pipeline's sweep"
            + (f", and {which} has no sweep:" if len(pipelines) == 1 else ""),
            f"name one pipeline with a sweep: mlops run {which} --shard {text}",
        )
    return part


def _push(ws: Workspace, targets: list[str], *, run_cache: bool) -> None:
    """Share the outputs (and the run-cache) with other jobs and clones through the remote."""
    _say("pushing outputs and the run-cache to the DVC remote")
    _with_remote(ws, "push", targets, run_cache=run_cache, failed="DVC remote refused the push")
    if run_cache and (missing := unshared(ws.root)):
        raise CheckFailed(
            f"the DVC remote lacks {len(missing)} run-cache entries after the push "
            f"(first: {missing[0]}): other jobs would train them again",
            "push again with `dvc push --run-cache`; check that the remote's credentials "
            "allow writing",
        )


def _require_unchanged(ws: Workspace, chosen: list[str]) -> None:
    """The run must reproduce exactly what the commit says (dvc.lock, metrics)."""
    graph = build_graph(ws)
    paths = [ROOT_DVC_LOCK, *(pipeline_dvc_lock(name) for name in chosen)]
    paths += [
        n.outputs["metrics"]
        for n in graph.nodes.values()
        if n.pipeline in chosen and "metrics" in n.outputs
    ]
    changed = git.dirty_files(ws.root, paths)
    if not changed:
        return
    for name in chosen:
        differs = _first_difference(ws, name)
        if differs:
            stage, path, was, now = differs
            raise CheckFailed(
                f"stage {name}:{stage} does not reproduce the commit's results: {path} is "
                f"{now[:12]} here, {was[:12]} in the committed dvc.lock",
                "the commit carries results its code and data do not produce, so they are not "
                "registered; find who committed that dvc.lock (`git log -p "
                f"{pipeline_dvc_lock(name)}`), or run `mlops run {name}` and commit its results",
            )
    raise CheckFailed(
        f"the run changed {', '.join(changed)}: the commit does not carry its own results",
        "run `mlops run` locally and commit dvc.lock and the metrics files with the change",
    )


def _first_difference(ws: Workspace, pipeline: str) -> tuple[str, str, str, str] | None:
    """(stage, output, committed hash, new hash) of the first output that differs."""
    path = pipeline_dvc_lock(pipeline)
    committed = git.show(ws.root, "HEAD", f"./{path}")
    try:
        now = yamlio.read((ws.root / path).read_text("utf-8"))
        was = yamlio.read(committed) if committed is not None else None
    except (OSError, YAMLError):
        return None
    before, after = artifact.lock_hashes(was), artifact.lock_hashes(now)
    for stage, kinds in after.items():
        for out, digest in kinds["outs"].items():
            old = before.get(stage, {}).get("outs", {}).get(out)
            if old != digest:
                return stage, out, old or "absent", digest or "absent"
    return None


def _pull(ws: Workspace, targets: list[str], *, run_cache: bool) -> None:
    """Fetch data, outputs and (optionally) the run-cache before reproducing."""
    _say("pulling data and cached results from the DVC remote")
    _with_remote(ws, "pull", targets, run_cache=run_cache, failed="DVC remote unavailable")


def _with_remote(
    ws: Workspace, action: str, targets: list[str], *, run_cache: bool, failed: str
) -> None:
    """`dvc pull` or `dvc push` of `targets` and what they read, after checking the remote."""
    args = [action, *(["--allow-missing"] if action == "pull" else []), "--with-deps", *targets]
    if run_cache:
        args.insert(1, "--run-cache")
    _require_remote(ws)
    try:
        proc.run(proc.dvc_cmd(*args), cwd=ws.root)
    except ExternalCommandError as exc:
        last = exc.cause
        raise CheckFailed(f"{failed}: {last}", _FORK_HINT) from None


_FORK_HINT = (
    "check the remote's URL and credentials; a pull request from a fork gets no secrets, "
    "so its pipelines cannot be checked here: a maintainer must run them"
)


def _require_remote(ws: Workspace) -> None:
    """Fail loudly when the default remote cannot be reached: `dvc pull` would not."""
    from dvc.repo import Repo

    try:
        with Repo(str(ws.root)) as repo:
            remote = repo.cloud.get_remote()
            exists = remote.fs.exists(remote.path)
    # Any failure to reach the remote (credentials, network, config) is the answer.
    except Exception as exc:
        raise CheckFailed(
            f"DVC remote unavailable: {type(exc).__name__}: {exc}".splitlines()[0], _FORK_HINT
        ) from None
    storage = ws.project.storage
    if storage is not None and storage.remotes[storage.default].is_local and not exists:
        raise CheckFailed(f"DVC remote unavailable: {remote.path} does not exist", _FORK_HINT)


def _say(text: str) -> None:
    sys.stderr.write(text + "\n")
    sys.stderr.flush()


class _Progress:
    """One line per stage as DVC reaches it, with a running count."""

    def __init__(self, total: int) -> None:
        self.total = total
        self.seen = 0

    def _count(self) -> str:
        self.seen += 1
        return f"[{min(self.seen, self.total)}/{self.total}]"

    def event(self, event: StageEvent) -> None:
        if event.kind == "start":
            _say(f"{self._count()} running {event.stage}")
        elif event.kind == "done":
            _say(f"      done {event.stage} in {event.seconds:.1f}s")
        elif event.kind == "unchanged":
            _say(f"{self._count()} up to date {event.stage}")
        elif event.kind == "restored":
            _say(f"      restored {event.stage} from the run-cache")
        elif event.kind == "failed":
            _say(f"      FAILED {event.stage}")
        elif event.kind == "output":
            _say(f"      {event.text}")


def _metrics(ws: Workspace, chosen: list[str]) -> dict[str, dict[str, Any]]:
    """Headline metrics of each pipeline, from its metrics files."""
    graph = build_graph(ws)
    out: dict[str, dict[str, Any]] = {}
    scored = [n for n in graph.nodes.values() if n.pipeline in chosen and "metrics" in n.outputs]
    per_pipeline: dict[str, int] = {}
    for node in scored:
        per_pipeline[node.pipeline] = per_pipeline.get(node.pipeline, 0) + 1
    for node in scored:
        path = node.outputs["metrics"]
        # One line per pipeline, or per evaluate stage (each sweep variant) when several.
        key = node.pipeline if per_pipeline[node.pipeline] == 1 else f"{node.pipeline}:{node.name}"
        try:
            values = json.loads((ws.root / Path(path)).read_text("utf-8"))
        except (OSError, ValueError):
            continue
        if isinstance(values, dict):
            out.setdefault(key, {}).update(
                {k: v for k, v in values.items() if isinstance(v, (int, float))}
            )
    return out


def _summary_text(summary: RunSummary) -> str:
    parts = [
        f"{len(summary.ran)} ran",
        f"{len(summary.restored)} restored from the run-cache",
        f"{len(summary.unchanged)} up to date",
        f"{len(summary.failed)} failed",
    ]
    text = f"\n{', '.join(parts)} in {summary.seconds}s\n"
    for pipeline, values in sorted(summary.metrics.items()):
        shown = "  ".join(f"{k}={v:.4g}" for k, v in sorted(values.items()))
        text += f"{pipeline}: {shown}\n"
    return text
