"""A warm process that forks the built-in stages of one `mlops run` (a fork server).

Each built-in stage is a `python -m runner.steps` process that DVC starts, and most
of a short stage is importing pandas, pyarrow, scikit-learn and skops (1.5 s for
train or evaluate). `mlops run` sets `MLOPS_STEP_SERVER` to a folder of its own for
the `dvc repro` it drives. The first stage that runs there finds no server, starts
one and runs itself; the server imports what the stages import once, on the other
core, and listens on a Unix socket in the folder. Each later stage hands it its
command line, working folder, environment and standard streams, and waits: the
server forks a child that runs the module with them (as a fresh process would, with
the libraries already imported) and reports its exit status, which the stage exits
with. Signals the stage receives (DVC stopping it, ^C) are passed on to the child.

Without the variable (a plain `dvc repro`), where fork or Unix sockets are missing,
or when the server cannot be reached, a stage runs itself as before. `mlops run`
stops the server and removes the folder when it ends (`stop`).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import struct
import sys
from collections.abc import Sequence
from pathlib import Path

from runner import proc
from runner.errors import ExternalCommandError

ENV = "MLOPS_STEP_SERVER"
_SOCKET = "steps.sock"
_PID = "server.pid"
# One line per stage the server forked (`PID MODULE ARGS...`): what tests check.
LOG = "served.log"
_WAIT_FOR_SERVER_S = 120.0  # its imports, on a loaded machine
_IDLE_EXIT_S = 600.0  # a server whose `mlops run` vanished without stopping it
_FORWARDED = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


def supported() -> bool:
    return hasattr(os, "fork") and hasattr(socket, "AF_UNIX") and hasattr(socket, "send_fds")


def wanted() -> bool:
    """Whether `mlops run` should give its stages a server: supported, and not turned
    off with an empty `MLOPS_STEP_SERVER`."""
    return supported() and os.environ.get(ENV) != ""


# --- the stage's side ----------------------------------------------------------


def delegate(module: str, args: Sequence[str], *, warm: Sequence[str] = ()) -> int | None:
    """Run `python -m module args` in the server of `MLOPS_STEP_SERVER`, as this
    process (same folder, environment and streams); its exit code. None when there
    is no server to use: the caller runs the module itself. The first caller of a
    folder starts the server for the stages after it, which imports `warm` first."""
    folder = os.environ.get(ENV)
    if not folder or not supported():
        return None
    conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        conn.connect(str(Path(folder) / _SOCKET))
    except OSError:
        conn.close()
        _start_server(Path(folder), warm)
        return None
    with conn:
        conn.settimeout(_WAIT_FOR_SERVER_S)
        reader = conn.makefile("rb")
        try:
            if reader.readline() != b"ready\n":
                return None
            request = json.dumps(
                {"module": module, "args": list(args), "cwd": os.getcwd(), "env": dict(os.environ)}
            ).encode("utf-8")
            socket.send_fds(conn, [struct.pack("!I", len(request)) + request], [0, 1, 2])
            started = reader.readline()
        except OSError:
            return None
        if not started.startswith(b"pid "):
            return None  # it never forked the stage: safe to run it here
        child = int(started.split()[1])
        # From here the stage runs there: no fallback, whatever happens.
        for sig in _FORWARDED:
            signal.signal(sig, lambda number, frame: _forward(child, number))
        conn.settimeout(None)
        try:
            line = reader.readline()
        except OSError:  # the connection broke: as good as a server that stopped
            line = b""
    if not line.startswith(b"exit "):
        _forward(child, signal.SIGTERM)  # no one would report what it does now
        raise ExternalCommandError(
            "the step server stopped while it ran this stage",
            "run `mlops run` again; set MLOPS_STEP_SERVER= (empty) to run each stage alone",
        )
    code = int(line.split()[1])
    if code < 0:  # killed by a signal: end the same way
        for sig in _FORWARDED:
            signal.signal(sig, signal.SIG_DFL)
        os.kill(os.getpid(), -code)
        return 128 - code
    return code


def _forward(child: int, number: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(child, number)


def _start_server(folder: Path, warm: Sequence[str]) -> None:
    """Start the folder's server unless one was started already (by another stage)."""
    try:
        fd = os.open(folder / _PID, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except OSError:  # started already, or the folder is gone: nothing to do
        return
    with os.fdopen(fd, "w") as pid_file:
        # Detached from this stage's streams: DVC waits for them to close.
        pid = proc.start_detached(
            [sys.executable, "-m", "runner.forkserver", str(folder), ",".join(warm)]
        )
        pid_file.write(f"{pid}\n")


def new_folder() -> Path:
    """A new private folder for one server (short: a socket path has ~100 bytes)."""
    import tempfile

    return Path(tempfile.mkdtemp(prefix="mlops-steps-"))


def stop(folder: Path) -> None:
    """Stop the server of `folder`, if one was started, and remove the folder."""
    import shutil

    try:
        pid = int((folder / _PID).read_text().split()[0])
    except (OSError, ValueError, IndexError):
        pid = 0
    if pid:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
        _wait_if_adopted(pid)
    shutil.rmtree(folder, ignore_errors=True)


def adopt_orphans() -> None:
    """Make this process the one that orphaned descendants are handed to (Linux's
    child subreaper): the server, whose starter (the first stage) exits long before
    it, is then this process's child, and `stop` waits for it, so that its resource
    usage (and the stages') counts in this process's. Nothing elsewhere. It lasts
    for the life of the process: called in-process (tests call `cli.main`), any later
    orphan of the caller's descendants is handed to it as well, and stays a zombie
    until the caller exits."""
    if not sys.platform.startswith("linux"):
        return
    import ctypes

    pr_set_child_subreaper = 36
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(pr_set_child_subreaper, 1, 0, 0, 0)


def _wait_if_adopted(pid: int) -> None:
    """Wait (up to 10 s, then kill) for the stopped server if it is our child."""
    import time

    deadline = time.monotonic() + 10
    while True:
        try:
            done, _ = os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:  # not ours: nothing to wait for
            return
        if done:
            return
        if time.monotonic() > deadline:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
            with contextlib.suppress(ChildProcessError):
                os.waitpid(pid, 0)
            return
        time.sleep(0.01)


# --- the server's side ---------------------------------------------------------


def serve(folder: Path, warm: Sequence[str]) -> None:
    """Import `warm`, then listen in `folder` until told to stop (SIGTERM), the
    folder disappears, or nothing came for `_IDLE_EXIT_S`.

    Every process it forks is waited for, by it or by the handler that forked it, so
    that what the stages used (CPU, peak memory) adds up in `mlops run`'s own
    resource usage, which waits for this server (`adopt_orphans`, `stop`)."""
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(str(folder / _SOCKET))
    listener.listen(16)  # bound before importing: a stage that comes early waits
    signal.signal(signal.SIGTERM, _stop_serving)
    import importlib

    try:
        for name in warm:
            try:
                importlib.import_module(name)
            except Exception:  # a head start only
                continue
        listener.settimeout(1.0)
        idle = 0.0
        handlers: set[int] = set()
        while folder.is_dir() and idle < _IDLE_EXIT_S:
            handlers -= _reap(block=False)
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                idle = 0.0 if handlers else idle + 1.0  # a long stage is not idleness
                continue
            idle = 0.0
            handler = os.fork()
            if handler == 0:  # a handler per stage: the server goes back to listening
                listener.close()
                signal.signal(signal.SIGTERM, signal.SIG_DFL)
                code = 1
                try:
                    conn.settimeout(None)
                    _handle(conn, folder)
                    code = 0
                finally:
                    os._exit(code)
            handlers.add(handler)
            conn.close()
    except _Stopped:
        pass
    finally:
        listener.close()
        # Gone from the folder before it exits: no stage connects to a dead server,
        # and `stop` never signals a pid that another process may have reused.
        for name in (_SOCKET, _PID):
            with contextlib.suppress(OSError):
                (folder / name).unlink()
        _reap(block=True)


class _Stopped(BaseException):
    """SIGTERM, raised wherever the server is. Not an `Exception`: the warm imports
    skip a module that fails with one, and a stop that came during them must end the
    server, not be taken for a module that failed to import (`stop` then waited 10 s
    and killed it: a `mlops run` whose first built-in stage failed at once took 10 s
    more)."""


def _stop_serving(number: int, frame: object) -> None:
    raise _Stopped


def _reap(*, block: bool) -> set[int]:
    """Wait for the handlers that ended (all of them, when `block`); their pids."""
    ended: set[int] = set()
    while True:
        try:
            pid, _ = os.waitpid(-1, 0 if block else os.WNOHANG)
        except ChildProcessError:
            return ended
        if pid == 0:
            return ended
        ended.add(pid)


def _handle(conn: socket.socket, folder: Path) -> None:
    """Answer one stage: fork the child that runs it, wait for it, report its status."""
    conn.sendall(b"ready\n")
    data, fds, _, _ = socket.recv_fds(conn, 1 << 20, 3)
    if len(data) < 4 or len(fds) != 3:
        return
    size = struct.unpack("!I", data[:4])[0]
    body = data[4:]
    while len(body) < size:
        more = conn.recv(size - len(body))
        if not more:
            return
        body += more
    request = json.loads(body)
    child = os.fork()
    if child == 0:
        conn.close()
        _become(request, fds)  # never returns
    for fd in fds:
        os.close(fd)
    with open(folder / LOG, "a", encoding="utf-8") as log:
        log.write(" ".join([str(child), request["module"], *request["args"]]) + "\n")
    conn.sendall(f"pid {child}\n".encode())
    _, status = os.waitpid(child, 0)
    conn.sendall(f"exit {os.waitstatus_to_exitcode(status)}\n".encode())


def _become(request: dict[str, object], fds: list[int]) -> None:
    """In the forked child: take the stage's streams, folder, environment and command
    line, run the module as `python -m` would, and exit with its status."""
    for sig in (*_FORWARDED, signal.SIGCHLD):
        signal.signal(sig, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    for target, fd in enumerate(fds):
        os.dup2(fd, target)
        os.close(fd)
    code = 1
    try:
        os.chdir(str(request["cwd"]))
        env = request["env"]
        assert isinstance(env, dict)
        os.environ.clear()
        os.environ.update(env)
        os.environ.pop(ENV, None)  # the module runs here: it must not delegate again
        # numpy's global generator as a fresh process would have it (`random`
        # reseeds itself after a fork).
        if "numpy" in sys.modules:
            sys.modules["numpy"].random.seed()
        args = request["args"]
        assert isinstance(args, list)
        code = proc.run_module_as_main(str(request["module"]), [str(a) for a in args])
    except BaseException:
        import traceback

        traceback.print_exc()
        code = 1
    finally:
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        finally:
            os._exit(code)


if __name__ == "__main__":
    serve(Path(sys.argv[1]), [name for name in sys.argv[2].split(",") if name])
