"""What `mlops plan --format outputs` (the CI matrix) costs when one of many pipelines changes.

Generates a project of N pipelines (4 built-in stages each, the generator the
tests use), commits it, changes one pipeline on a branch, then times, round by
round in one run:

- ours: `mlops plan --format outputs` on N pipelines (compares only the
  pipelines git says the change reaches);
- the same command on a project of 1 pipeline with the same change (the cost
  a change should have, whatever N is);
- `mlops plan --format json` on N pipelines (compiles and compares every
  pipeline on both sides: the full plan).

Each output is checked (one affected pipeline, a matrix of one job). Prints
medians and ratios, or with --json one JSON list of rows.

    .venv/bin/python benchmarks/plan_scale.py [--pipelines 500] [--rounds 3] [--json]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from compile_vs_dvc import bench_env, run, tool

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from scale_project import write_project


def project(root: Path, count: int, env: dict[str, str]) -> str:
    """N pipelines committed on main, one changed on a branch; the changed one's name."""
    names = write_project(root, count)
    run(["git", "init", "-q", "-b", "main"], root, env)
    run(["git", "add", "-A"], root, env)
    run(["git", "commit", "-q", "-m", "pipelines"], root, env)
    run(["git", "checkout", "-q", "-b", "change"], root, env)
    changed = names[len(names) // 2]
    path = root / "pipelines" / f"{changed}.yaml"
    path.write_text(path.read_text("utf-8").replace("max_depth: 3", "max_depth: 4"), "utf-8")
    run(["git", "commit", "-q", "-a", "-m", "change one"], root, env)
    return changed


def timed_plan(root: Path, fmt: str, changed: str, env: dict[str, str]) -> float:
    start = time.perf_counter()
    done = subprocess.run(
        [tool("mlops"), "plan", "--format", fmt], cwd=root, env=env, capture_output=True, text=True
    )
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        sys.exit(f"error: mlops plan --format {fmt} failed in {root}:\n{done.stderr}")
    if fmt == "outputs":
        lines = dict(line.split("=", 1) for line in done.stdout.splitlines())
        jobs = json.loads(lines["matrix"])["include"]
        if json.loads(lines["pipelines"]) != [changed] or len(jobs) != 1:
            sys.exit(f"error: expected one job for {changed}, got:\n{done.stdout}")
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pipelines", type=int, default=500, help="N (default: 500)")
    parser.add_argument("--rounds", type=int, default=3, help="rounds (default: 3)")
    parser.add_argument("--json", action="store_true", help="print one JSON list of rows")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="mlops-plan-scale-") as tmp:
        base = Path(tmp)
        (base / "home").mkdir()
        env = bench_env(base / "home")
        many, one = base / "many", base / "one"
        changed_many = project(many, args.pipelines, env)
        changed_one = project(one, 1, env)
        ours, small, full = [], [], []
        for _ in range(args.rounds):
            ours.append(timed_plan(many, "outputs", changed_many, env))
            small.append(timed_plan(one, "outputs", changed_one, env))
            full.append(timed_plan(many, "json", changed_many, env))
    n = args.pipelines
    rows = [
        {
            "what": f"plan --format outputs, {n} pipelines, 1 changed",
            "ours_s": round(statistics.median(ours), 3),
            "peer": "the same on 1 pipeline",
            "peer_s": round(statistics.median(small), 3),
            "ratio": round(statistics.median(o / s for o, s in zip(ours, small, strict=True)), 2),
            "goal": "report",
        },
        {
            "what": f"plan --format outputs, {n} pipelines, 1 changed",
            "ours_s": round(statistics.median(ours), 3),
            "peer": f"full plan (--format json), {n} pipelines",
            "peer_s": round(statistics.median(full), 3),
            "ratio": round(statistics.median(o / f for o, f in zip(ours, full, strict=True)), 3),
            "goal": "< 1.00",
        },
    ]
    if args.json:
        print(json.dumps(rows))
        return
    print(f"{'what':<48} {'ours_s':>8}  {'peer':<40} {'peer_s':>8} {'ratio':>7}")
    for row in rows:
        print(
            f"{row['what']:<48} {row['ours_s']:>8}  {row['peer']:<40} {row['peer_s']:>8} "
            f"{row['ratio']:>7}"
        )


if __name__ == "__main__":
    main()
