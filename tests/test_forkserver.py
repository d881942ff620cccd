"""`runner.forkserver`: the warm process that forks the built-in stages of `mlops run`.

Real processes throughout: a stage is a `python` process that calls `delegate`, the
server is the process the first stage starts, and the module each one runs is a
small script on PYTHONPATH that writes what it saw.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from runner import forkserver

pytestmark = pytest.mark.skipif(not forkserver.supported(), reason="needs fork and Unix sockets")

# A stage: delegate `python -m MODULE ARGS` to the server, else say so with exit 99.
STAGE = (
    "import sys\n"
    "from runner import forkserver\n"
    "from runner.errors import MlopsError\n"
    "try:\n"
    "    code = forkserver.delegate(sys.argv[1], sys.argv[2:], warm=['json'])\n"
    "except MlopsError as exc:\n"
    "    sys.exit(f'error: {exc.message} (hint: {exc.hint})')\n"
    "sys.exit(99 if code is None else code)\n"
)

MODULE = """\
import json, os, pathlib, sys, time
what = sys.argv[1] if len(sys.argv) > 1 else ''
pathlib.Path('seen.json').write_text(json.dumps({
    'argv': sys.argv[1:], 'cwd': os.getcwd(), 'pid': os.getpid(),
    'x': os.environ.get('X'), 'server': os.environ.get('MLOPS_STEP_SERVER'),
}))
print('out:', what)
print('err:', what, file=sys.stderr)
if what == 'fail':
    sys.exit(3)
if what == 'message':
    sys.exit('stopped: no data')
if what == 'raise':
    raise RuntimeError('broken step')
if what == 'sleep':
    pathlib.Path('started').write_text('yes')
    time.sleep(60)
"""


@pytest.fixture
def setup(tmp_path: Path) -> Iterator[tuple[Path, Path, dict[str, str]]]:
    code = tmp_path / "code"
    code.mkdir()
    (code / "probe.py").write_text(MODULE)
    work = tmp_path / "work"
    work.mkdir()
    folder = forkserver.new_folder()
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(code), os.environ.get("PYTHONPATH", "")]),
        forkserver.ENV: str(folder),
        "X": "from the stage",
    }
    yield folder, work, env
    forkserver.stop(folder)


def _stage(work: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", STAGE, "probe", *args],
        cwd=work,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def _until(done: Callable[[], bool], seconds: float, never: str) -> None:
    """Wait until `done()` (a hang guard, not a timing claim); fail with `never`."""
    deadline = time.monotonic() + seconds
    while not done():
        assert time.monotonic() < deadline, never
        time.sleep(0.05)


def _ready(folder: Path) -> None:
    """Start the server the way the first stage does, and wait until it listens."""
    _until(lambda: (folder / "steps.sock").exists(), 60, "the server never listened")


def _first(work: Path, env: dict[str, str], folder: Path) -> None:
    first = _stage(work, env, "first")
    assert first.returncode == 99, first.stderr  # ran itself, started the server
    assert (folder / "server.pid").is_file()
    _ready(folder)


def _sleeping(
    folder: Path, work: Path, env: dict[str, str], streams: int
) -> tuple[subprocess.Popen[str], int]:
    """A stage whose forked child sleeps, once that child has started; and its pid."""
    _first(work, env, folder)
    stage = subprocess.Popen(
        [sys.executable, "-c", STAGE, "probe", "sleep"],
        cwd=work,
        env=env,
        stdout=streams,
        stderr=streams,
        text=True,
    )
    _until(lambda: (work / "started").exists(), 60, "the child never started")
    return stage, int((folder / "served.log").read_text().split()[0])


def test_without_the_variable_a_stage_runs_itself(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != forkserver.ENV}
    done = subprocess.run(
        [sys.executable, "-c", STAGE, "probe"], cwd=tmp_path, env=env, capture_output=True
    )
    assert done.returncode == 99


def test_later_stages_run_in_a_forked_child_with_their_own_folder_env_and_streams(
    setup: tuple[Path, Path, dict[str, str]],
) -> None:
    folder, work, env = setup
    _first(work, env, folder)
    done = _stage(work, env, "second", "two words")
    assert done.returncode == 0, done.stderr
    assert done.stdout == "out: second\n"
    assert done.stderr == "err: second\n"
    seen = json.loads((work / "seen.json").read_text())
    assert seen["argv"] == ["second", "two words"]
    assert seen["cwd"] == str(work)
    assert seen["x"] == "from the stage"
    assert seen["server"] is None  # it runs the module: it must not delegate again
    served = (folder / "served.log").read_text().splitlines()
    assert served == [f"{seen['pid']} probe second two words"]


def test_exit_codes_messages_and_tracebacks_come_back(
    setup: tuple[Path, Path, dict[str, str]],
) -> None:
    folder, work, env = setup
    _first(work, env, folder)
    failed = _stage(work, env, "fail")
    assert failed.returncode == 3
    said = _stage(work, env, "message")
    assert said.returncode == 1
    assert said.stderr.endswith("stopped: no data\n")
    broken = _stage(work, env, "raise")
    assert broken.returncode == 1
    assert "RuntimeError: broken step" in broken.stderr
    assert len((folder / "served.log").read_text().splitlines()) == 3


def test_a_signal_to_the_stage_reaches_the_child(
    setup: tuple[Path, Path, dict[str, str]],
) -> None:
    # DVC stops a stage (or ^C reaches it): the forked child must stop too.
    folder, work, env = setup
    stage, child = _sleeping(folder, work, env, subprocess.DEVNULL)
    stage.send_signal(signal.SIGTERM)
    assert stage.wait(timeout=30) == -signal.SIGTERM  # ends as the child did
    _until(lambda: not Path(f"/proc/{child}").exists(), 10, "the child outlived its stage")


def test_stop_ends_the_server_and_removes_its_folder(
    setup: tuple[Path, Path, dict[str, str]],
) -> None:
    folder, work, env = setup
    _first(work, env, folder)
    server = int((folder / "server.pid").read_text())
    forkserver.stop(folder)
    assert not folder.exists()
    _until(
        lambda: not Path(f"/proc/{server}").exists() or "Z" in _state(server),
        10,
        "the server outlived stop()",
    )
    # A stage that comes after: no server, no folder, it runs itself.
    assert _stage(work, env, "late").returncode == 99


def _state(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0]
    except OSError:
        return "Z"


def test_a_server_lost_while_a_stage_runs_fails_the_stage_with_a_message(
    setup: tuple[Path, Path, dict[str, str]],
) -> None:
    # The stage ran there, so it must not run again here: it fails, and says why.
    folder, work, env = setup
    stage, child = _sleeping(folder, work, env, subprocess.PIPE)
    handler = int(Path(f"/proc/{child}/stat").read_text().split(")")[-1].split()[1])
    os.kill(handler, signal.SIGKILL)
    _, err = stage.communicate(timeout=30)  # the stage stopped the child: its streams closed
    assert stage.returncode == 1
    assert err.strip().splitlines()[-1] == (
        "error: the step server stopped while it ran this stage (hint: run `mlops run` "
        "again; set MLOPS_STEP_SERVER= (empty) to run each stage alone)"
    )


def test_what_the_forked_stages_use_counts_in_the_run_that_adopted_the_server(
    setup: tuple[Path, Path, dict[str, str]],
) -> None:
    # `mlops run` adopts the server the first stage leaves behind and waits for it:
    # the peak memory of a forked stage shows in the run's own resource usage, as
    # it would if the stage had been a process of its own.
    folder, work, env = setup
    (work.parent / "code" / "big.py").write_text(
        "block = bytearray(400 * 2**20)\nblock[:: 4096] = b'x' * len(block[:: 4096])\n"
    )
    run = (
        "import resource, subprocess, sys, time\n"
        "from pathlib import Path\n"
        "from runner import forkserver\n"
        "forkserver.adopt_orphans()\n"
        "folder = Path(sys.argv[1])\n"
        "stage = [sys.executable, '-c', sys.argv[2]]\n"
        "assert subprocess.run([*stage, 'big']).returncode == 99\n"
        "while not (folder / 'steps.sock').exists():\n"
        "    time.sleep(0.05)\n"
        "assert subprocess.run([*stage, 'big']).returncode == 0\n"
        "forkserver.stop(folder)\n"
        "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss // 1024)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", run, str(folder), STAGE],
        cwd=work,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert not folder.exists()
    # MiB. The stage script never runs a module itself (it exits 99 instead), so the
    # block can only have been allocated by the forked child.
    assert int(done.stdout) >= 400


def test_a_server_that_ends_takes_its_socket_and_pid_file_with_it(
    setup: tuple[Path, Path, dict[str, str]],
) -> None:
    # `stop` must never signal a pid another process may have reused, and no stage may
    # wait on a dead socket; a later stage starts a new server instead.
    folder, work, env = setup
    _first(work, env, folder)
    server = int((folder / "server.pid").read_text())
    os.kill(server, signal.SIGTERM)
    _until(
        lambda: not ((folder / "server.pid").exists() or (folder / "steps.sock").exists()),
        10,
        "the server left its files behind",
    )
    assert folder.is_dir()
    _first(work, env, folder)  # runs itself and starts a new server
    assert int((folder / "server.pid").read_text()) != server
    assert _stage(work, env, "again").returncode == 0


def test_a_stop_during_the_warm_imports_ends_the_server(tmp_path: Path) -> None:
    # A `mlops run` whose first built-in stage fails at once stops the server while it
    # is still importing; a module that fails to import is skipped, a stop is not.
    code = tmp_path / "code"
    code.mkdir()
    (code / "slow_import.py").write_text(
        "import pathlib, time\npathlib.Path('importing').write_text('yes')\ntime.sleep(60)\n"
    )
    folder = forkserver.new_folder()
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(code), os.environ.get("PYTHONPATH", "")]),
    }
    server = subprocess.Popen(
        [sys.executable, "-m", "runner.forkserver", str(folder), "slow_import"],
        cwd=tmp_path,
        env=env,
    )
    try:
        _until(
            lambda: (tmp_path / "importing").exists(),
            60,
            "the server never started its imports",
        )
        server.send_signal(signal.SIGTERM)
        assert server.wait(timeout=30) == 0  # ended by itself, not killed
        assert not (folder / "steps.sock").exists()
    finally:
        if server.poll() is None:
            server.kill()
            server.wait()
        forkserver.stop(folder)
