"""A no-op `mlops run` against a no-op `dvc repro`, and `mlops gate` against the
`dvc status` it asks, on the same trained project.

Trains the `mlops init` example once (`mlops compile`, `mlops run`, commit),
then times `dvc repro` and `mlops run` with nothing to do, and `mlops gate iris`
and `dvc status --json --with-deps dvc.yaml:iris` (gate's freshness check, with
nothing changed), round by round so machine noise hits all alike, and prints the
median wall time of each and the ratios (no-op run: at most 1.1; the gate's row
is for information).

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
    commands = {
        "dvc repro": [dvc, "repro"],
        "mlops run": [mlops, "run"],
        "dvc status": [dvc, "status", "--json", "--with-deps", "dvc.yaml:iris"],
        "mlops gate": [mlops, "gate", "iris"],
    }
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
    med = {name: statistics.median(samples) for name, samples in times.items()}
    rows = [
        {
            "what": "mlops run, nothing to do",
            "ours_s": med["mlops run"],
            "peer": "dvc repro, nothing to do",
            "peer_s": med["dvc repro"],
            "ratio": med["mlops run"] / med["dvc repro"],
            "goal": "<= 1.10",
        },
        {
            "what": "mlops gate iris (its freshness check included)",
            "ours_s": med["mlops gate"],
            "peer": "dvc status of the same stages",
            "peer_s": med["dvc status"],
            "ratio": med["mlops gate"] / med["dvc status"],
            "goal": None,
        },
    ]
    if args.json:
        print(json.dumps(rows))
        return
    print(f"median wall time of {args.rounds} rounds")
    for row in rows:
        print(f"{row['peer']:<46} {row['peer_s']:7.3f} s")
        print(f"{row['what']:<46} {row['ours_s']:7.3f} s   ratio {row['ratio']:5.2f}")


if __name__ == "__main__":
    main()
