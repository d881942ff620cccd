"""A no-op `mlops run` against a no-op `dvc repro` on the same trained project.

Trains the `mlops init` example once (`mlops compile`, `mlops run`, commit),
then times `dvc repro` and `mlops run` with nothing to do, round by round so
machine noise hits both alike, and prints the median wall time of each and
their ratio (goal: at most 1.1).

    .venv/bin/python benchmarks/noop_run.py [--rounds 7] [--json]
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import tempfile
import time
from pathlib import Path

from compile_vs_dvc import bench_env, commit, run, tool


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7, help="timed runs of each command")
    parser.add_argument("--json", action="store_true", help="print one JSON list of result rows")
    args = parser.parse_args()
    if args.rounds < 1:
        parser.error("--rounds must be at least 1")

    mlops, dvc = tool("mlops"), tool("dvc")
    tmp = Path(tempfile.mkdtemp(prefix="mlops-noop-"))
    (tmp / "home").mkdir()
    env = bench_env(tmp / "home")
    root = tmp / "demo"
    commands = {"dvc repro": [dvc, "repro"], "mlops run": [mlops, "run"]}
    times: dict[str, list[float]] = {name: [] for name in commands}
    try:
        run([mlops, "init", str(root)], tmp, env)
        run(["git", "init", "-q", "-b", "main"], root, env)
        commit(root, env)
        run([mlops, "compile"], root, env)
        run([mlops, "run"], root, env)
        commit(root, env)
        for cmd in commands.values():  # warm the file cache once
            run(cmd, root, env)
        for _ in range(args.rounds):
            for name, cmd in commands.items():
                start = time.perf_counter()
                run(cmd, root, env)
                times[name].append(time.perf_counter() - start)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    ours, peer = (statistics.median(times[n]) for n in ("mlops run", "dvc repro"))
    row = {
        "what": "mlops run, nothing to do",
        "ours_s": ours,
        "peer": "dvc repro, nothing to do",
        "peer_s": peer,
        "ratio": ours / peer,
        "goal": "<= 1.10",
    }
    if args.json:
        print(json.dumps([row]))
        return
    print(f"median wall time of {args.rounds} rounds")
    print(f"dvc repro  {peer:7.3f} s\nmlops run  {ours:7.3f} s   ratio {ours / peer:5.2f}")


if __name__ == "__main__":
    main()
