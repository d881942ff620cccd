"""How `mlops validate` and `mlops compile` scale with the number of pipelines.

Builds throw-away projects of N pipelines, each a copy of the `mlops init`
example (4 built-in stages: ingest, split, train, evaluate, with gates and a
deployed model of its own), for N = --small and --large. On each it times, round
by round so that machine noise hits every command alike:

- `mlops validate`, and `mlops compile` into a fresh copy (nothing generated yet);
- on the compiled project: `mlops compile --check` against `dvc status`.

It reports CPU seconds of the child processes (user + system), and prints:

- the per-pipeline cost of validate + compile at --large over the same at --small
  (goal: at most 1.2, i.e. linear);
- the CPU of validate + compile at --large against a budget of 1 s per 1,000 pipelines;
- `mlops compile --check` over `dvc status` on the same --large project (goal: 0.5).

    .venv/bin/python benchmarks/compile_scale.py [--small 100] [--large 1000] [--rounds 3] [--json]
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from compile_vs_dvc import bench_env, commit, init_repo, pipeline_names, tool

CPU_BUDGET_S = 1.0  # for validate + compile of 1,000 pipelines (scaled for other sizes)


def write_project(root: Path, n: int, env: dict[str, str]) -> None:
    """`mlops init` into `root`, then N copies of its pipeline, each deploying its own model."""
    subprocess.run([tool("mlops"), "init", str(root)], env=env, check=True, capture_output=True)
    example = root / "pipelines" / "iris.yaml"
    text = example.read_text()
    example.unlink()
    for name in pipeline_names(n):
        (root / "pipelines" / f"{name}.yaml").write_text(
            text.replace("iris-classifier", f"{name}-model")
        )
    # The example pins `iris-classifier`, which no longer exists: follow main with two models.
    first, second = pipeline_names(n)[:2] if n > 1 else (pipeline_names(1)[0],) * 2
    (root / "deployments.yaml").write_text(
        f"staging:\n  {first}-model: latest\n  {second}-model: latest\nproduction: {{}}\n"
    )


def cpu_of(cmd: list[str], cwd: Path, env: dict[str, str], ok: tuple[int, ...] = (0,)) -> float:
    """CPU seconds (user + system) that `cmd` used; stop when it exits with a code not in `ok`."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    done = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode not in ok:
        sys.exit(
            f"error: {' '.join(cmd)} (in {cwd}) exited with {done.returncode}\n"
            f"stdout:\n{done.stdout[-2000:]}\nstderr:\n{done.stderr[-2000:]}"
        )
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def fresh_copy(src: Path, into: Path) -> Path:
    """A copy of the sources of `src` (no generated files) in a new folder under `into`."""
    tree = Path(tempfile.mkdtemp(dir=into, prefix="fresh-"))
    for name in ("mlops.yaml", "deployments.yaml"):
        shutil.copy2(src / name, tree / name)
    (tree / "pipelines").mkdir()
    for path in (src / "pipelines").glob("*.yaml"):
        shutil.copy2(path, tree / "pipelines" / path.name)
    return tree


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", type=int, default=100, help="pipelines in the small project")
    parser.add_argument("--large", type=int, default=1000, help="pipelines in the large project")
    parser.add_argument("--rounds", type=int, default=3, help="timed runs of each command")
    parser.add_argument("--json", action="store_true", help="print one JSON list of result rows")
    args = parser.parse_args()
    if args.small < 2 or args.large <= args.small or args.rounds < 1:
        parser.error("need 2 <= --small < --large and --rounds >= 1")

    mlops, dvc = tool("mlops"), tool("dvc")
    tmp = Path(tempfile.mkdtemp(prefix="mlops-scale-"))
    (tmp / "home").mkdir()
    env = bench_env(tmp / "home")
    try:
        projects = {}
        for n in (args.small, args.large):
            root = tmp / f"p{n}"
            init_repo(root, env)
            write_project(root, n, env)
            cpu_of([mlops, "compile"], root, env)
            commit(root, env)
            projects[n] = root
        large = projects[args.large]
        cpu_of([dvc, "status"], large, env)  # warm the file cache once

        def fresh(n: int) -> Callable[[], float]:
            return lambda: cpu_of([mlops, "compile"], fresh_copy(projects[n], tmp), env)

        commands: dict[str, Callable[[], float]] = {}
        for n in (args.small, args.large):
            commands[f"validate {n}"] = lambda n=n: cpu_of([mlops, "validate"], projects[n], env)
            commands[f"compile {n}"] = fresh(n)
        commands["check"] = lambda: cpu_of([mlops, "compile", "--check"], large, env)
        commands["dvc status"] = lambda: cpu_of([dvc, "status"], large, env)
        samples: dict[str, list[float]] = {name: [] for name in commands}
        walls: dict[str, list[float]] = {name: [] for name in commands}
        for _ in range(args.rounds):
            for name, once in commands.items():
                start = time.perf_counter()
                samples[name].append(once())
                walls[name].append(time.perf_counter() - start)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    med = {name: statistics.median(values) for name, values in samples.items()}
    small, large_n = args.small, args.large
    per_small = (med[f"validate {small}"] + med[f"compile {small}"]) / small
    per_large = (med[f"validate {large_n}"] + med[f"compile {large_n}"]) / large_n
    both_large = med[f"validate {large_n}"] + med[f"compile {large_n}"]
    budget = CPU_BUDGET_S * large_n / 1000
    rows = [
        {
            "what": f"validate+compile CPU per pipeline, {large_n} vs {small} pipelines",
            "ours_s": per_large,
            "peer": f"the same at {small} pipelines",
            "peer_s": per_small,
            "ratio": per_large / per_small,
            "goal": "<= 1.20",
        },
        {
            "what": f"validate+compile CPU, {large_n} pipelines",
            "ours_s": both_large,
            "peer": "budget: 1 s CPU per 1,000 pipelines",
            "peer_s": budget,
            "ratio": both_large / budget,
            "goal": "<= 1.00",
        },
        {
            "what": f"compile --check CPU, {large_n} pipelines",
            "ours_s": med["check"],
            "peer": "dvc status",
            "peer_s": med["dvc status"],
            "ratio": med["check"] / med["dvc status"],
            "goal": "<= 0.50",
        },
    ]
    if args.json:
        print(json.dumps(rows))
        return
    print(f"median of {args.rounds} rounds, CPU seconds (user + system) of each process")
    for name in commands:
        wall = statistics.median(walls[name])
        print(f"  {name:<16} cpu {med[name]:7.3f} s   wall {wall:7.3f} s")
    width = max(len(row["what"]) for row in rows)
    print(f"{'what':<{width}} {'ours':>9} {'peer':>9} {'ratio':>6}  goal")
    for row in rows:
        print(
            f"{row['what']:<{width}} {row['ours_s']:9.4f} {row['peer_s']:9.4f} "
            f"{row['ratio']:6.2f}  {row['goal']}   ({row['peer']})"
        )


if __name__ == "__main__":
    main()
