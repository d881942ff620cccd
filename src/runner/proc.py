"""Every subprocess goes through here (as pre-commit's `cmd_output`).

A failure raises ExternalCommandError whose message shows the command, its
exit code and the cause it gave, with the end of what it printed shown under
it, so no cause is lost.
"""

from __future__ import annotations

import contextlib
import os
import re
import subprocess
import sys
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from pathlib import Path

from runner.errors import ExternalCommandError, UsageError

_TAIL = 20


def dvc_cmd(*args: str) -> list[str]:
    """DVC from the same environment as this Python (works without PATH set up)."""
    return [sys.executable, "-m", "dvc", *args]


def _env(extra: Mapping[str, str] | None, unset: Collection[str] = ()) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in unset}
    env["DVC_NO_ANALYTICS"] = "1"
    env.update(extra or {})
    return env


def run(
    cmd: Sequence[str],
    *,
    cwd: Path,
    env: Mapping[str, str] | None = None,
    check: bool = True,
    input: str | None = None,
    unset: Collection[str] = (),
    errors: str = "strict",
) -> subprocess.CompletedProcess[str]:
    """Run `cmd` and capture its output; raise ExternalCommandError when it fails.

    `unset` names environment variables the child must not inherit; `errors` is how
    undecodable output is read (e.g. "surrogateescape" to detect it afterwards).
    """
    try:
        proc = subprocess.run(
            list(cmd),
            cwd=cwd,
            env=_env(env, unset),
            capture_output=True,
            text=True,
            errors=errors,
            input=input,
            check=False,
        )
    except FileNotFoundError:
        raise UsageError(f"{cmd[0]} is not installed or not on PATH", f"install {cmd[0]}") from None
    if check and proc.returncode != 0:
        raise command_error(" ".join(cmd), proc.returncode, f"{proc.stdout}\n{proc.stderr}")
    return proc


# A line in which git or DVC names what went wrong.
_CAUSE = re.compile(r"^(ERROR|[Ee]rror|fatal)\b")


def command_error(shown: str, code: int, output: str) -> ExternalCommandError:
    """The error of command `shown`, which exited with `code` after printing `output`:
    its cause in the message (the last line that says ERROR, error or fatal, else its
    last line), and the end of its output to show under it."""
    lines = [line.rstrip() for line in output.splitlines() if line.strip()]
    cause = next((ln.strip() for ln in reversed(lines) if _CAUSE.match(ln.strip())), None)
    if cause is None and lines:
        cause = lines[-1].strip()
    return ExternalCommandError(
        f"`{shown}` exited with {code}" + (f": {cause}" if cause else ""),
        "the end of its output is shown below" if lines else "it printed nothing",
        output="\n".join(lines[-_TAIL:]),
        cause=cause or "",
    )


def stream(
    cmd: Sequence[str],
    *,
    cwd: Path,
    on_line: Callable[[str], None],
    env: Mapping[str, str] | None = None,
) -> int:
    """Run `cmd`, handing each line of its merged stdout and stderr to `on_line`."""
    try:
        proc = subprocess.Popen(
            list(cmd),
            cwd=cwd,
            env=_env(env),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            bufsize=1,
        )
    except FileNotFoundError:
        raise UsageError(f"{cmd[0]} is not installed or not on PATH", f"install {cmd[0]}") from None
    return _pump(proc, on_line)


def _pump(proc: subprocess.Popen[str], on_line: Callable[[str], None]) -> int:
    """Hand each line of `proc`'s output to `on_line` until it exits; its exit code.
    If `on_line` raises (or ^C), the process is stopped first."""
    assert proc.stdout is not None
    try:
        for line in proc.stdout:
            on_line(line.rstrip("\n"))
    except BaseException:
        proc.terminate()
        proc.wait()
        raise
    return proc.wait()


def start_detached(cmd: Sequence[str]) -> int:
    """Start `cmd` with no standard streams of ours (nothing waits for it to close
    them) and leave it running; its pid."""
    return subprocess.Popen(
        list(cmd),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        close_fds=True,
    ).pid


def run_module_as_main(module: str, args: Sequence[str]) -> int:
    """Run `module` in this process as `python -m module args` would; its exit status
    (a `SystemExit` message is written to stderr, status 1, as Python does)."""
    import runpy

    sys.argv = [module, *args]
    try:
        runpy.run_module(module, run_name="__main__", alter_sys=True)
    except SystemExit as stop:
        if stop.code is None or isinstance(stop.code, int):
            return stop.code or 0
        sys.stderr.flush()
        os.write(2, f"{stop.code}\n".encode())
        return 1
    return 0


# The child of `start_module`. It imports, then reads one line from stdin:
# `go {"args": [...], "cwd": ..., "env": {...}}` runs the module there, with those
# variables added; anything else (or end of input) exits. Once the module is done
# (its threads joined, its atexit functions run, its output flushed) the process
# ends without tearing down the interpreter: freeing every object of a DVC run one
# by one took 90 to 170 ms, a third of a no-op `mlops run`.
_WAIT_THEN_RUN = """\
import importlib, json, os, sys
from runner.proc import run_module_as_main
for name in filter(None, sys.argv[1].split(",")):
    __import__(name)
for name in filter(None, sys.argv[2].split(",")):
    module, _, call = name.partition(":")
    try:
        found = importlib.import_module(module)
        if call:
            getattr(found, call)()
    except Exception:
        pass
line = sys.stdin.readline()
if not line.startswith("go "):
    sys.exit(0)
sys.stdin.close()
order = json.loads(line[3:])
os.environ.update(order["env"])
os.chdir(order["cwd"])
code = run_module_as_main(sys.argv[3], order["args"])
import atexit, threading
getattr(threading, "_shutdown", lambda: None)()
atexit._run_exitfuncs()
sys.stdout.flush()
sys.stderr.flush()
os._exit(code)
"""


class Waiting:
    """A `python -m MODULE` started ahead of time: its imports are done while the
    caller finishes its own work, and it runs only when told to (`stream`), with the
    arguments and in the folder given then."""

    def __init__(self, popen: subprocess.Popen[str]) -> None:
        self._popen = popen
        self._told = False

    def stream(
        self,
        on_line: Callable[[str], None],
        args: Sequence[str],
        *,
        cwd: Path,
        env: Mapping[str, str] | None = None,
    ) -> int:
        """Let it run `args` in `cwd`, with `env` added to its environment, handing
        each line of its merged output to `on_line`; its exit code."""
        import json

        proc = self._popen
        assert proc.stdin is not None and proc.stdout is not None
        self._told = True
        order = json.dumps({"args": list(args), "cwd": str(cwd), "env": dict(env or {})})
        with contextlib.suppress(BrokenPipeError):  # it died importing: its output says why
            proc.stdin.write(f"go {order}\n")
            proc.stdin.close()
        return _pump(proc, on_line)

    def cancel(self) -> None:
        """Stop it if it was never told to run: until then it only imports, so it is
        killed rather than waited for (`mlops run --help` must not wait for DVC's
        imports). After it ran, nothing happens."""
        proc = self._popen
        if self._told or proc.returncode is not None:
            return
        assert proc.stdin is not None and proc.stdout is not None
        proc.kill()
        proc.wait()
        with contextlib.suppress(BrokenPipeError):
            proc.stdin.close()
        proc.stdout.close()


class EarlyStart:
    """A process a verb starts before it even parses its command line (`Verb.early`),
    so that its imports overlap the verb's own work. The code that needs it takes it
    (`take`); if nothing does, it is cancelled, untouched, when the verb ends."""

    def __init__(self, start: Callable[[], Waiting]) -> None:
        self._start = start
        self._unused: list[Waiting] = []

    @contextlib.contextmanager
    def started(self) -> Iterator[None]:
        """Start it now; on the way out, stop it if nothing took it."""
        waiting = self._start()
        self._unused.append(waiting)
        try:
            yield
        finally:
            if waiting in self._unused:
                self._unused.remove(waiting)
            waiting.cancel()

    def take(self) -> Waiting:
        """The process `started` started, else one started now."""
        return self._unused.pop() if self._unused else self._start()


def start_module(
    module: str,
    *,
    cwd: Path,
    preload: Sequence[str] = (),
    warm: Sequence[str] = (),
    env: Mapping[str, str] | None = None,
) -> Waiting:
    """Start `python -m module` with this Python (in `cwd`), importing `preload` at
    once and waiting to run until `Waiting.stream` gives its arguments (or never,
    after `Waiting.cancel`).

    `warm` are imported too, after `preload`, but only as a head start: one that is
    missing or fails is left for the module to import (and report) itself. A
    `module:function` entry also calls that function (to fill a cache of its own).

    Its stdin is closed when it runs: nothing it starts can wait for a keyboard.
    """
    cmd = [sys.executable, "-c", _WAIT_THEN_RUN, ",".join(preload), ",".join(warm), module]
    return Waiting(
        subprocess.Popen(
            cmd,
            cwd=cwd,
            env=_env(env),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            bufsize=1,
        )
    )
