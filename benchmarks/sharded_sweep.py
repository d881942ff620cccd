"""A 6-variant sweep sharded over 3 simulated runners, against the same sweep in one process.

Builds the `mlops init` example with a 6-variant sweep (train.max_depth x
train.n_estimators) and `ci.shards: 3`, commits it to a bare origin, then per
round, with a fresh empty DVC remote for each side (so nothing is restored):

- ours: three fresh clones run `mlops run iris --shard I/3 --pull --push` at
  the same time (three CI jobs), then a fourth runs `mlops collect iris` (the
  final job: every variant restored from the run-cache, the champion gated);
- peer: one fresh clone runs `mlops run iris` (every variant one after another);
- and each shard job alone, one after another: the slowest is what one runner per job
  (real CI) would take, without three processes sharing this machine's cores.

The two sides alternate within each round (which goes first swaps every round)
and the medians of the paired rounds are compared. Timings on a shared machine
are noisy; the ratio of paired runs is what to read. Each side is checked: six
models trained, and collect trained none.

    .venv/bin/python benchmarks/sharded_sweep.py [--rounds 3] [--json]
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from compile_vs_dvc import bench_env, run, tool

SHARDS = 3
TRAINED = re.compile(r"train: wrote \S*/outputs/iris/(train-[^/\s]+)/model")


def build(base: Path, env: dict[str, str]) -> Path:
    """The example with a sharded sweep, committed to a bare origin; the origin's path."""
    seed = base / "seed"
    run([tool("mlops"), "init", str(seed)], base, env)
    pipeline = seed / "pipelines/iris.yaml"
    text = pipeline.read_text("utf-8")
    text = text[: text.index("deploy:")].replace("  baseline: production", "  select: accuracy")
    text = text.replace(
        "stages:",
        f"ci:\n  shards: {SHARDS}\nsweep:\n  train.max_depth: [2, 3]\n"
        "  train.n_estimators: [10, 20, 30]\nstages:",
        1,
    )
    pipeline.write_text(text, "utf-8")
    (seed / "deployments.yaml").write_text("{}\n", "utf-8")
    project = seed / "mlops.yaml"
    remote = base / "remote"
    project.write_text(
        project.read_text("utf-8").replace("url: .mlops/storage", f"url: {remote}"), "utf-8"
    )
    run([tool("mlops"), "compile"], seed, env)
    run(["git", "add", "-A"], seed, env)
    run(["git", "commit", "-q", "-m", "sweep"], seed, env)
    origin = base / "origin.git"
    run(["git", "clone", "-q", "--bare", str(seed), str(origin)], base, env)
    return origin


def fresh(base: Path, origin: Path, name: str, env: dict[str, str]) -> Path:
    clone = base / name
    shutil.rmtree(clone, ignore_errors=True)
    run(["git", "clone", "-q", str(origin), str(clone)], base, env)
    return clone


def empty_remote(base: Path) -> None:
    shutil.rmtree(base / "remote", ignore_errors=True)
    (base / "remote").mkdir()


def sharded(base: Path, origin: Path, env: dict[str, str]) -> tuple[float, float]:
    """Seconds for the shard jobs (run together), and for the shards plus collect."""
    empty_remote(base)
    clones = [fresh(base, origin, f"shard{i}", env) for i in range(1, SHARDS + 1)]
    final = fresh(base, origin, "collect", env)
    start = time.perf_counter()
    jobs = [
        subprocess.Popen(
            [tool("mlops"), "run", "iris", "--shard", f"{i}/{SHARDS}", "--pull", "--push"],
            cwd=clone,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for i, clone in enumerate(clones, start=1)
    ]
    logs = [job.communicate()[0] for job in jobs]
    shards_s = time.perf_counter() - start
    if any(job.returncode for job in jobs):
        sys.exit("error: a shard failed:\n" + "\n".join(logs))
    trained = [m for log in logs for m in TRAINED.findall(log)]
    if sorted(trained) != sorted(set(trained)) or len(trained) != 6:
        sys.exit(f"error: the shards trained {trained}, not each of 6 variants once")
    done = subprocess.run(
        [tool("mlops"), "collect", "iris"], cwd=final, env=env, capture_output=True, text=True
    )
    total_s = time.perf_counter() - start
    if done.returncode != 0 or TRAINED.search(done.stderr):
        sys.exit(f"error: collect failed or trained:\n{done.stdout}\n{done.stderr}")
    return shards_s, total_s


def alone(base: Path, origin: Path, env: dict[str, str]) -> float:
    """The slowest of the 3 shard jobs run one at a time, each against an empty remote.

    What separate runners (one machine per job) would take: no job shares this machine's
    two cores with the others, and each still reproduces the shared stages itself.
    """
    slowest = 0.0
    for index in range(1, SHARDS + 1):
        empty_remote(base)
        clone = fresh(base, origin, f"alone{index}", env)
        start = time.perf_counter()
        done = subprocess.run(
            [tool("mlops"), "run", "iris", "--shard", f"{index}/{SHARDS}", "--pull", "--push"],
            cwd=clone,
            env=env,
            capture_output=True,
            text=True,
        )
        slowest = max(slowest, time.perf_counter() - start)
        if done.returncode != 0 or len(TRAINED.findall(done.stderr)) != 2:
            sys.exit(
                f"error: shard {index} alone failed or did not train 2 variants:\n{done.stderr}"
            )
    return slowest


def single(base: Path, origin: Path, env: dict[str, str]) -> float:
    empty_remote(base)
    clone = fresh(base, origin, "single", env)
    start = time.perf_counter()
    done = subprocess.run(
        [tool("mlops"), "run", "iris"], cwd=clone, env=env, capture_output=True, text=True
    )
    seconds = time.perf_counter() - start
    if done.returncode != 0 or len(TRAINED.findall(done.stderr)) != 6:
        sys.exit(f"error: the single run failed or did not train 6 variants:\n{done.stderr}")
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3, help="paired rounds (default: 3)")
    parser.add_argument("--json", action="store_true", help="print one JSON list of rows")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="mlops-shards-") as tmp:
        base = Path(tmp)
        (base / "home").mkdir()
        env = bench_env(base / "home")
        origin = build(base, env)
        shards, totals, singles, alones = [], [], [], []
        for index in range(args.rounds):
            if index % 2 == 0:
                singles.append(single(base, origin, env))
                shard_s, total_s = sharded(base, origin, env)
                alones.append(alone(base, origin, env))
            else:
                alones.append(alone(base, origin, env))
                shard_s, total_s = sharded(base, origin, env)
                singles.append(single(base, origin, env))
            shards.append(shard_s)
            totals.append(total_s)
            if not args.json:
                print(
                    f"round {index + 1}: one process {singles[-1]:.1f}s, "
                    f"3 shards {shard_s:.1f}s, + collect {total_s:.1f}s, "
                    f"slowest shard alone {alones[-1]:.1f}s",
                    file=sys.stderr,
                )
    peer = statistics.median(singles)
    shard_ratio = statistics.median(s / p for s, p in zip(shards, singles, strict=True))
    total_ratio = statistics.median(t / p for t, p in zip(totals, singles, strict=True))
    alone_ratio = statistics.median(a / p for a, p in zip(alones, singles, strict=True))
    rows = [
        {
            "what": f"6-variant sweep, {SHARDS} shard jobs in separate clones",
            "ours_s": round(statistics.median(shards), 2),
            "peer": "the same sweep in one process",
            "peer_s": round(peer, 2),
            "ratio": round(shard_ratio, 3),
            "goal": "< 1.00",
        },
        {
            "what": f"6-variant sweep, {SHARDS} shard jobs + collect job",
            "ours_s": round(statistics.median(totals), 2),
            "peer": "the same sweep in one process",
            "peer_s": round(peer, 2),
            "ratio": round(total_ratio, 3),
            "goal": "report",
        },
        {
            "what": f"6-variant sweep, slowest of {SHARDS} shard jobs run alone",
            "ours_s": round(statistics.median(alones), 2),
            "peer": "the same sweep in one process",
            "peer_s": round(peer, 2),
            "ratio": round(alone_ratio, 3),
            "goal": "< 0.67",
        },
    ]
    if args.json:
        print(json.dumps(rows))
        return
    print(f"{'what':<52} {'ours_s':>8} {'peer_s':>8} {'ratio':>7}  goal")
    for row in rows:
        print(
            f"{row['what']:<52} {row['ours_s']:>8} {row['peer_s']:>8} {row['ratio']:>7}  "
            f"{row['goal']}"
        )


if __name__ == "__main__":
    main()
