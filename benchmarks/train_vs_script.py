"""Built-in training (`mlops run`) against a hand-written script, side by side.

Generates a classification CSV (`--rows` x 20 columns, 2 of them categorical,
some values missing), sets up the `mlops init` example to ingest it, split it,
fit RandomForestClassifier(`--trees`) and evaluate it, and times a full
`mlops run --force --no-run-cache` against `handwritten_train.py` (the same work
in one pandas + scikit-learn + skops script), interleaved round by round so
machine noise hits both alike. Peak memory is the largest resident set of any
process of a run (`getrusage(RUSAGE_CHILDREN)` of a wrapper process).

    .venv/bin/python benchmarks/train_vs_script.py [--rows 20000] [--rounds 3] [--json]

The goals (issue 16) are measured at `--rows 200000` and `--rows 1000000`. With
`--json` it prints one JSON list of rows {"what", "ours_s", "peer", "peer_s",
"ratio", "goal"} (the memory row's *_s fields hold MiB), for benchmarks/all.py.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
# Runs a command and prints the peak RSS (KiB) of it and everything it waited for.
_PEAK = (
    "import resource, subprocess, sys\n"
    "subprocess.run(sys.argv[1:], check=True, stdout=subprocess.DEVNULL,"
    " stderr=subprocess.DEVNULL)\n"
    "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)\n"
)


def write_data(path: Path, rows: int, seed: int = 0) -> None:
    """A reproducible table: 18 numbers, 2 categories, a 3-class label that depends on them."""
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(seed)
    numbers = rng.normal(size=(rows, 18))
    colour = rng.choice(["red", "green", "blue", "amber"], size=rows)
    shape = rng.choice([f"s{i}" for i in range(12)], size=rows)
    score = numbers[:, 0] + 0.5 * numbers[:, 1] - numbers[:, 2] + (colour == "red") * 0.8
    score += rng.normal(scale=0.7, size=rows)
    label = np.where(score > 0.6, "high", np.where(score < -0.6, "low", "mid"))
    frame = pd.DataFrame({f"x{i:02d}": numbers[:, i] for i in range(18)})
    frame.loc[rng.random(rows) < 0.02, "x03"] = np.nan
    frame["colour"] = colour
    frame["shape"] = shape
    frame.loc[rng.random(rows) < 0.02, "shape"] = None
    frame["label"] = label
    frame.to_csv(path, index=False)


PIPELINE = """\
description: benchmark
params:
  seed: 42
  train: {{n_estimators: {trees}}}
stages:
  ingest:
    step: ingest
    with: {{source: data.csv}}
  split:
    step: split
    with: {{target: label, test_size: 0.25, seed: "${{seed}}", stratify: true}}
  train:
    step: train
    with:
      estimator: sklearn.ensemble.RandomForestClassifier
      params: "${{train}}"
  evaluate:
    step: evaluate
    with: {{metrics: [accuracy, f1_macro]}}
deploy:  # the init example's deployments.yaml names this model
  model: iris-classifier
  environments: [staging, production]
"""


def _env(home: Path) -> dict[str, str]:
    bindir = str(Path(sys.executable).parent)
    return {
        **os.environ,
        "HOME": str(home),
        "PATH": f"{bindir}{os.pathsep}{os.environ.get('PATH', '')}",
        "DVC_NO_ANALYTICS": "1",
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_AUTHOR_NAME": "bench",
        "GIT_AUTHOR_EMAIL": "bench@example.com",
        "GIT_COMMITTER_NAME": "bench",
        "GIT_COMMITTER_EMAIL": "bench@example.com",
    }


def make_project(work: Path, csv: Path, trees: int, env: dict[str, str]) -> Path:
    """The init example with one pipeline that trains on `csv`."""
    py = sys.executable
    root = work / "project"
    subprocess.run(
        [py, "-m", "runner", "init", str(root)], check=True, env=env, capture_output=True
    )
    for old in (root / "pipelines").glob("*.yaml"):
        old.unlink()
    (root / "pipelines" / "bench.yaml").write_text(PIPELINE.format(trees=trees), encoding="utf-8")
    shutil.copy(csv, root / "data.csv")
    for cmd in (["git", "init", "-q"], ["git", "add", "-A"], ["git", "commit", "-qm", "bench"]):
        subprocess.run(cmd, cwd=root, check=True, env=env, capture_output=True)
    subprocess.run(
        [py, "-m", "runner", "compile"], cwd=root, check=True, env=env, capture_output=True
    )
    return root


def set_up(work: Path, rows: int, trees: int) -> tuple[Path, Path, dict[str, str]]:
    """Generated data, a HOME and the example project in `work`: (project, csv, env)."""
    home = work / "home"
    home.mkdir()
    env = _env(home)
    csv = work / "data.csv"
    write_data(csv, rows)
    return make_project(work, csv, trees, env), csv, env


def timed(cmd: list[str], cwd: Path, env: dict[str, str]) -> tuple[float, float]:
    """(wall seconds, peak RSS in MiB) of `cmd` and all the processes it starts."""
    start = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-c", _PEAK, *cmd],
        cwd=cwd,
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )
    wall = time.perf_counter() - start
    return wall, int(done.stdout.split()[-1]) / 1024


def restore_row(root: Path, env: dict[str, str]) -> dict[str, object]:
    """`rm -rf outputs` then `mlops run` (every stage restored from DVC's run-cache),
    against a plain copy of the same files."""
    outputs = root / "outputs"
    size = sum(p.stat().st_size for p in outputs.rglob("*") if p.is_file())
    copy = root.parent / "outputs-copy"
    shutil.copytree(outputs, copy)
    shutil.rmtree(outputs)
    start = time.perf_counter()
    done = subprocess.run(
        ["mlops", "run", "--format", "json"],
        cwd=root,
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )
    restore = time.perf_counter() - start
    summary = json.loads(done.stdout)
    start = time.perf_counter()
    shutil.copytree(copy, root.parent / "outputs-copy-2")
    plain = time.perf_counter() - start
    return {
        "what": f"restore after rm -rf outputs ({size / 2**20:.0f} MiB, "
        f"{len(summary['restored'])} restored, {len(summary['ran'])} ran): "
        f"{size / 2**20 / restore:.0f} MiB/s",
        "ours_s": round(restore, 2),
        "peer": "copying the same files",
        "peer_s": round(plain, 2),
        "ratio": round(restore / plain, 2),
        "goal": "restored, not re-run",
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=20_000, help="rows of the generated table")
    parser.add_argument("--trees", type=int, default=100, help="n_estimators of the forest")
    parser.add_argument("--rounds", type=int, default=3, help="paired runs")
    parser.add_argument("--json", action="store_true", help="print one JSON list of rows")
    parser.add_argument(
        "--restore", action="store_true", help="also time a restore from DVC's run-cache"
    )
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="train-vs-script-"))
    try:
        root, csv, env = set_up(work, args.rows, args.trees)
        ours = ["mlops", "run", "--force", "--no-run-cache"]
        peer = [
            sys.executable,
            str(HERE / "handwritten_train.py"),
            str(csv),
            "--target",
            "label",
            "--out",
            str(work / "script.skops"),
            "--trees",
            str(args.trees),
        ]
        samples: dict[str, list[tuple[float, float]]] = {"ours": [], "peer": []}
        for turn in range(args.rounds):
            # Alternate who goes first, so neither always runs on a warmer machine.
            order = [("ours", ours), ("peer", peer)]
            for name, cmd in order if turn % 2 == 0 else reversed(order):
                samples[name].append(timed(cmd, root, env))
        wall = {k: [w for w, _ in v] for k, v in samples.items()}
        peak = {k: [m for _, m in v] for k, v in samples.items()}
        wall_ratio = statistics.median(
            o / p for o, p in zip(wall["ours"], wall["peer"], strict=True)
        )
        mem_ratio = statistics.median(
            o / p for o, p in zip(peak["ours"], peak["peer"], strict=True)
        )
        rows = [
            {
                "what": f"training wall, {args.rows} rows x 20 (RandomForest({args.trees}))",
                "ours_s": round(statistics.median(wall["ours"]), 2),
                "peer": "handwritten_train.py",
                "peer_s": round(statistics.median(wall["peer"]), 2),
                "ratio": round(wall_ratio, 3),
                "goal": "<= 1.10",
            },
            {
                "what": f"training peak memory MiB, {args.rows} rows",
                "ours_s": round(statistics.median(peak["ours"]), 1),
                "peer": "handwritten_train.py",
                "peer_s": round(statistics.median(peak["peer"]), 1),
                "ratio": round(mem_ratio, 3),
                "goal": "<= 1.20",
            },
        ]
        if args.restore:
            rows.append(restore_row(root, env))
        if args.json:
            print(json.dumps(rows))
            return
        print(
            f"{args.rows} rows x 20 columns, RandomForest({args.trees}), {args.rounds} paired runs"
        )
        print(f"{'':<22} {'mlops run':>10} {'script':>10} {'ratio':>7} {'goal':>8}")
        for row, label in zip(rows, ("wall (s)", "peak memory (MiB)"), strict=False):
            print(
                f"{label:<22} {row['ours_s']:>10} {row['peer_s']:>10} "
                f"{row['ratio']:>7} {row['goal']:>8}"
            )
        if args.restore:
            row = rows[-1]
            print(f"{row['what']}: {row['ours_s']} s (plain copy {row['peer_s']} s)")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
