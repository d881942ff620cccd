"""Reproduce pipelines through `dvc repro` and make sense of what it says.

DVC reports each stage as it goes ("Running stage ...", "didn't change,
skipping", restored from the run-cache). We turn those lines into events for
progress, count them for the summary, and turn DVC's ERROR lines plus the
failing step's own `error:`/`hint:` lines into one cause and one hint.
"""

from __future__ import annotations

import contextlib
import os
import re
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from runner import forkserver, proc
from runner.layout import PIPELINES_DIR, ROOT_DVC_YAML

_RUNNING = re.compile(r"^Running stage '(?P<stage>[^']+)':")
_UNCHANGED = re.compile(r"Stage '(?P<stage>[^']+)' didn't change, skipping")
_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
_CACHED = re.compile(r"^Stage '(?P<stage>[^']+)' is cached - skipping run")
_FAILED = re.compile(r"^ERROR: failed to reproduce '(?P<stage>[^']+)': (?P<why>.*)")
# `pipelines/<p>/dvc.yaml:<s>`, a stage of a pipeline's own dvc.yaml.
_PIPELINE_STAGE = re.compile(
    rf"{re.escape(PIPELINES_DIR)}/(?P<p>[^/]+)/{re.escape(ROOT_DVC_YAML)}:(?P<s>.+)"
)


def display_name(dvc_stage: str) -> str:
    """`pipelines/iris/dvc.yaml:train` -> `iris:train`; a root stage `iris` -> `iris`."""
    match = _PIPELINE_STAGE.fullmatch(dvc_stage)
    return f"{match['p']}:{match['s']}" if match else dvc_stage.removeprefix(f"{ROOT_DVC_YAML}:")


@dataclass(frozen=True)
class StageEvent:
    kind: str  # "start", "done", "unchanged", "restored", "failed", "output"
    stage: str
    text: str = ""
    seconds: float = 0.0


@dataclass
class ReproOutcome:
    ran: list[str] = field(default_factory=list)
    restored: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)  # DVC's ERROR lines
    step_errors: list[str] = field(default_factory=list)  # a step's own error:/hint: lines
    printed: bool = False  # whether a stage printed anything (shown as progress)
    returncode: int = 0
    seconds: float = 0.0


class _Parser:
    def __init__(self, emit: Callable[[StageEvent], None]) -> None:
        self.emit = emit
        self.outcome = ReproOutcome()
        self.current: str | None = None
        self.started = 0.0

    def _finish_current(self) -> None:
        if self.current is not None:
            elapsed = time.monotonic() - self.started
            self.outcome.ran.append(self.current)
            self.emit(StageEvent("done", self.current, seconds=elapsed))
            self.current = None

    def line(self, raw: str) -> None:
        text = _ANSI.sub("", raw).rstrip()
        if m := _RUNNING.match(text):
            self._finish_current()
            self.current = display_name(m["stage"])
            self.started = time.monotonic()
            self.emit(StageEvent("start", self.current))
        elif m := _UNCHANGED.search(text):
            self._finish_current()
            self.outcome.unchanged.append(display_name(m["stage"]))
            self.emit(StageEvent("unchanged", display_name(m["stage"])))
        elif m := _CACHED.match(text):
            # DVC prints "Running stage" first, then this when the run-cache has it.
            name = display_name(m["stage"])
            self.current = None
            self.outcome.restored.append(name)
            self.emit(StageEvent("restored", name))
        elif m := _FAILED.match(text):
            name = display_name(m["stage"])
            self.current = None
            self.outcome.failed.append(name)
            self.outcome.errors.append(text)
            self.emit(StageEvent("failed", name, m["why"]))
        elif text.startswith("ERROR:"):
            self.outcome.errors.append(text)
        elif text.startswith(("error: ", "  hint: ")):
            # Not shown now: the run's own error repeats the first cause and hint.
            self.outcome.step_errors.append(text.strip())
        elif self._noise(text):
            return
        else:
            self.outcome.printed = True
            self.emit(StageEvent("output", self.current or "", text))

    @staticmethod
    def _noise(text: str) -> bool:
        return (
            not text
            or text.startswith(("Updating lock file", "Generating lock file", "> "))
            or text.startswith(("To track the changes with git", "To enable auto staging"))
            or text.startswith(("\tgit add", "\tdvc config", "Use `dvc push`"))
            or text.startswith("Verifying data sources in stage")
            or text.startswith("Data and pipelines are up to date")
        )

    def close(self, returncode: int) -> ReproOutcome:
        if returncode == 0:
            self._finish_current()
        self.outcome.returncode = returncode
        return self.outcome


# What `dvc repro` imports before it reads the repository (about a third of a
# no-op run): a run started early imports them while mlops opens and compiles.
DVC_PRELOAD = ("dvc.cli", "dvc.repo", "dvc.commands.repro")
# And what it imports later, once it runs (measured with DVC 3.67: after the
# modules above, a no-op `dvc repro` still spent half its time importing these).
# A head start only: one that a DVC version lacks is skipped.
DVC_WARM = (
    "dvc.cli.parser:get_main_parser",  # cached by DVC: 20 ms of building argparse
    "dvc.scm",
    "dvc.lock",
    "dvc.rwlock",
    "dvc.repo.index",
    "dvc.repo.graph",
    "dvc.repo.stage",
    "dvc.repo.plots",
    "dvc.repo.params",
    "dvc.repo.metrics",
    "dvc.repo.datasets",
    "dvc.repo.artifacts",
    "dvc.repo.open_repo",
    "dvc.repo.trie",
    "dvc.cachemgr",
    "dvc.data_cloud",
    "dvc.compare",
    "dvc.utils.strictyaml",
    "dvc_data.hashfile.db.local",
    "dvc.analytics",
    "dvc.dirs",
    "networkx",
    "configobj",
    "ruamel.yaml",
    "scmrepo.git",
    "dulwich.repo",
    "psutil",
    "platformdirs",
    "flufl.lock",
    "zc.lockfile",
)


def _start_dvc() -> proc.Waiting:
    # Stages run `python -m runner.steps`: make `python` the interpreter running us,
    # so the stages see this very installation even when its venv is not activated.
    path = os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])
    return proc.start_module(
        "dvc", cwd=Path.cwd(), preload=DVC_PRELOAD, warm=DVC_WARM, env={"PATH": path}
    )


class StartedRepro:
    """A DVC started ahead of time (`prestarted`): it imports itself, then waits to be
    told what to reproduce (`finish`)."""

    def __init__(self, waiting: proc.Waiting | None = None) -> None:
        self._waiting = waiting if waiting is not None else _start_dvc()

    def finish(
        self, root: Path, args: Sequence[str], emit: Callable[[StageEvent], None]
    ) -> ReproOutcome:
        """Let it run `dvc ARGS` in `root`, reporting events; what it did.

        Its built-in stages share one fork server (`runner.forkserver`), which
        imports what they import once; it is stopped when DVC is done."""
        parser = _Parser(emit)
        started = time.monotonic()
        steps = forkserver.new_folder() if forkserver.wanted() else None
        env = {forkserver.ENV: str(steps)} if steps else {}
        if steps:
            forkserver.adopt_orphans()
        try:
            code = self._waiting.stream(parser.line, args, cwd=root, env=env)
        finally:
            if steps:
                forkserver.stop(steps)
        outcome = parser.close(code)
        outcome.seconds = time.monotonic() - started
        return outcome

    def cancel(self) -> None:
        """It will not run (mlops stopped first): it exits without touching anything."""
        self._waiting.cancel()


# The DVC that `start_early` starts for this process's `mlops run`.
_EARLY = proc.EarlyStart(_start_dvc)


def start_early() -> contextlib.AbstractContextManager[None]:
    """`mlops run`'s `Verb.early`, entered by cli before it even parses the command
    line: start DVC now, so that its imports (most of a no-op run) overlap with ours,
    with opening the project and with compiling. It runs only when `run` says so and
    what (`prestarted`); if anything stops `mlops run` first, it is stopped untouched."""
    return _EARLY.started()


def prestarted() -> StartedRepro:
    """The DVC `start_early` started, else one started now."""
    return StartedRepro(_EARLY.take())


def pipeline_targets(pipelines: list[str]) -> list[str]:
    """`dvc repro`'s targets for whole pipelines (all of them when empty)."""
    return [f"{ROOT_DVC_YAML}:{name}" for name in pipelines]


def repro_args(
    targets: Sequence[str], *, run_cache: bool = True, force: bool = False, pull: bool = False
) -> list[str]:
    """The arguments of `dvc repro` for `targets` (all pipelines when empty)."""
    args = ["repro", *targets]
    if pull:
        args.append("--pull")
    if not run_cache:
        args.append("--no-run-cache")
    if force:
        args.append("--force")
    return args


def reproduce(
    root: Path,
    targets: Sequence[str],
    *,
    emit: Callable[[StageEvent], None],
    run_cache: bool = True,
    force: bool = False,
    pull: bool = False,
) -> ReproOutcome:
    """Run `dvc repro` on `targets` (all pipelines when empty), reporting events.

    `pull`: fetch from the remote the outputs a run-cache entry names, so a stage
    another clone ran and pushed is restored here instead of run again.
    """
    args = repro_args(targets, run_cache=run_cache, force=force, pull=pull)
    return StartedRepro().finish(root, args, emit)


_MISSING_SOURCE = re.compile(r"missing data 'source': (?P<path>\S+)")
_NO_FILE = re.compile(r"No such file or directory: '(?P<path>[^']+)'")


def explain_failure(outcome: ReproOutcome, root: Path) -> tuple[str, str]:
    """One line of cause and one hint for a failed `dvc repro`."""
    text = "\n".join(outcome.errors)
    if no_file := _NO_FILE.search(text):
        path = Path(no_file["path"])
        with contextlib.suppress(ValueError):
            path = path.relative_to(root)
        where = f"stage {outcome.failed[0]}" if outcome.failed else "a stage"
        return (
            f"{where} cannot start: {path.as_posix()} is missing",
            "create the file, or fetch data with `dvc pull`",
        )
    step_error = next((e for e in outcome.step_errors if e.startswith("error: ")), None)
    step_hint = next((e for e in outcome.step_errors if e.startswith("hint: ")), None)
    if "Unable to acquire lock" in text:
        return (
            "another DVC process holds the repository lock",
            "wait for it to finish; if none is running, a crashed run left "
            ".dvc/tmp/lock behind: remove it and retry",
        )
    if outcome.failed:
        stage = outcome.failed[0]
        if only_remote := _MISSING_SOURCE.search(text):
            # A `dvc add`-tracked input whose data is not in this work tree (a fresh clone).
            return (
                f"input {only_remote['path']} (tracked by {stage}) is not in the work tree: "
                "its data is only in the DVC remote",
                f"fetch it with `mlops run --pull`, or `dvc pull {stage}`",
            )
        if step_error:
            return (
                f"stage {stage} failed: {step_error.removeprefix('error: ')}",
                (step_hint or "hint: fix it and run `mlops run` again").removeprefix("hint: "),
            )
        missing = re.search(
            r"dependenc(?:y|ies) (?:'|\[)?(?P<what>.*?)(?:'|\])? of .* missing", text
        )
        if "does not exist" in text or missing:
            what = missing["what"] if missing else "an input"
            return (
                f"stage {stage} cannot start: {what} is missing",
                "create the file, or fetch data with `dvc pull`",
            )
        why = _FAILED.match(outcome.errors[0])
        look = (
            "see the stage's output above"
            if outcome.printed
            else "the command printed nothing; run it by hand to see why it fails"
        )
        return (
            f"stage {stage} failed: {why['why'] if why else text}",
            f"{look}; fix it and run `mlops run` again",
        )
    missing = re.search(r"dependenc(?:y|ies) (?:'|\[)?(?P<what>.*?)(?:'|\])? of .* missing", text)
    if missing:
        return (
            f"an input is missing: {missing['what']}",
            "create the file, or fetch data with `dvc pull`",
        )
    first = outcome.errors[0].removeprefix("ERROR: ") if outcome.errors else "dvc repro failed"
    return first, "see DVC's output above"
