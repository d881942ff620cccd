"""`mlops monitor` against Evidently's data-drift preset: same data, side by side.

Generates a reference and a current table of N rows x 50 columns (40 numeric, 10
categorical) in which the drift is unambiguous: 10 numeric columns move by half a
standard deviation, 3 categorical columns change their frequencies a lot, the
other 37 columns come from the same distribution. The reference is the training
data of a model (the built-in train step writes its `reference.json`), deployed to
the example's staging folder; `mlops monitor iris --env staging --data current.parquet`
then checks the current table. Evidently reads both parquet files and runs
`Report([DataDriftPreset()])` in its own virtualenv (benchmarks/.venv-evidently, created
on first use: `pip install evidently "pandas<3"`).

Each side runs as its own process, rounds alternating which goes first, so machine
noise hits both alike. The data and the model are made by a child process (`--setup`),
so the measuring process stays small: a child's max RSS starts from its parent's at fork.
Reported per size: median wall time and peak memory (the process's max RSS, from
wait4), their ratios, and how many columns get the same
verdict, overall and on the 50 columns whose drift (or its absence) is unambiguous.

    .venv/bin/python benchmarks/monitor_vs_evidently.py [--sizes 100000 1000000] [--rounds 3]
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
from typing import Any

HERE = Path(__file__).resolve().parent
VENV = HERE / ".venv-evidently"
NUMERIC, CATEGORICAL = 40, 10
SHIFTED_NUMERIC = 10  # columns n0..n9 move by 0.5 sd
SHIFTED_CATEGORICAL = 3  # columns c0..c2 change their frequencies
MODEL = "iris-classifier"


def evidently_python() -> Path:
    """The virtualenv's python, created (and Evidently installed) when missing."""
    python = VENV / "bin" / "python"
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
        subprocess.run(
            [str(python), "-m", "pip", "install", "-q", "evidently", "pandas<3"], check=True
        )
    return python


def make_data(rows: int, folder: Path, seed: int = 1) -> tuple[Path, Path, set[str]]:
    """reference.parquet (with a label), current.parquet, and the columns that drift."""
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(seed)
    levels = [f"v{i}" for i in range(6)]
    even = np.full(6, 1 / 6)
    skewed = np.array([0.5, 0.2, 0.1, 0.1, 0.05, 0.05])

    def table(current: bool) -> pd.DataFrame:
        data: dict[str, Any] = {}
        for i in range(NUMERIC):
            shift = 0.5 if current and i < SHIFTED_NUMERIC else 0.0
            data[f"n{i}"] = rng.normal(10 + i + shift * (1 + i % 3), 1 + i % 3, rows)
        for i in range(CATEGORICAL):
            p = skewed if current and i < SHIFTED_CATEGORICAL else even
            data[f"c{i}"] = rng.choice(levels, rows, p=p)
        return pd.DataFrame(data)

    reference, current = table(False), table(True)
    reference["label"] = np.where(reference["n0"] + reference["n1"] > 21, "yes", "no")
    ref_path, cur_path = folder / "reference.parquet", folder / "current.parquet"
    reference.to_parquet(ref_path, index=False)
    current.to_parquet(cur_path, index=False)
    reference.drop(columns=["label"]).to_parquet(folder / "reference-features.parquet")
    drifted = {f"n{i}" for i in range(SHIFTED_NUMERIC)} | {
        f"c{i}" for i in range(SHIFTED_CATEGORICAL)
    }
    return ref_path, cur_path, drifted


def deploy_reference(project: Path, reference: Path) -> None:
    """Train on `reference` with the built-in step and point staging at the model."""
    import pandas as pd

    from runner.config.step_options import TrainOptions
    from runner.deploy.targets import open_target
    from runner.deploy.targets.base import Pointer
    from runner.fsutil import manifest, manifest_digest
    from runner.ml import run_step
    from runner.ml.files import write_parquet
    from runner.ml.split import SEED_KEY, TARGET_KEY
    from runner.project.workspace import open_workspace

    train = project / "train.parquet"
    write_parquet(train, pd.read_parquet(reference), {TARGET_KEY: "label", SEED_KEY: "1"})
    model = project / "model"
    options = TrainOptions(estimator="sklearn.tree.DecisionTreeClassifier", params={"max_depth": 3})
    run_step("train", options, {"train": train}, {"model": model})
    ws = open_workspace(project)
    target = open_target(ws.project.environments["staging"].target, project)
    files = manifest(model)
    target.upload(MODEL, "v0.1.0", model, files)
    target.switch(
        MODEL, None, Pointer(model=MODEL, version="v0.1.0", digest=manifest_digest(files))
    )


def wrapped(cmd: list[str], cwd: Path) -> tuple[float, float, str, int]:
    """Run `cmd` and return wall seconds, its peak RSS in MiB, stdout and exit code."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    out = proc.stdout.read() if proc.stdout else b""
    err = proc.stderr.read() if proc.stderr else b""
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    code = os.waitstatus_to_exitcode(status)
    if code not in (0, 1):
        raise SystemExit(f"{' '.join(cmd)} exited {code}:\n{err.decode()}")
    return wall, usage.ru_maxrss / 1024, out.decode(), code


def setup(folder: Path, rows: int) -> None:
    """In its own process: the data, the project and the deployed model, in `folder`."""
    reference, _, drifted = make_data(rows, folder)
    project = folder / "project"
    mlops = str(Path(sys.executable).parent / "mlops")
    subprocess.run([mlops, "init", str(project)], check=True, capture_output=True)
    deploy_reference(project, reference)
    (folder / "drifted.json").write_text(json.dumps(sorted(drifted)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--setup", nargs=2, metavar=("FOLDER", "ROWS"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.setup:
        setup(Path(args.setup[0]), int(args.setup[1]))
        return
    python = evidently_python()
    mlops = str(Path(sys.executable).parent / "mlops")
    rows_out = []
    with tempfile.TemporaryDirectory(prefix="monitor-bench-") as tmp:
        for size in args.sizes:
            folder = Path(tmp) / str(size)
            folder.mkdir()
            subprocess.run(
                [sys.executable, __file__, "--setup", str(folder), str(size)],
                check=True,
                capture_output=True,
            )
            current = folder / "current.parquet"
            drifted = set(json.loads((folder / "drifted.json").read_text()))
            project = folder / "project"
            ours_cmd = [
                mlops,
                "monitor",
                "iris",
                "--env",
                "staging",
                "--data",
                str(current),
                "--format",
                "json",
            ]
            out = folder / "evidently.json"
            theirs_cmd = [
                str(python),
                str(HERE / "evidently_drift.py"),
                str(folder / "reference-features.parquet"),
                str(current),
                str(out),
            ]
            times: dict[str, list[float]] = {"mlops": [], "evidently": []}
            memory: dict[str, list[float]] = {"mlops": [], "evidently": []}
            ours: dict[str, bool] = {}
            for r in range(args.rounds):
                order = [("mlops", ours_cmd), ("evidently", theirs_cmd)]
                for name, cmd in order if r % 2 == 0 else order[::-1]:
                    wall, peak, stdout, _ = wrapped(cmd, project)
                    times[name].append(wall)
                    memory[name].append(peak)
                    if name == "mlops":
                        result = json.loads(stdout)
                        ours = {
                            c["name"]: c["status"] == "drift"
                            for c in result["columns"]
                            if c["role"] == "feature"
                        }
                    print(
                        f"{size:>9} rows  round {r + 1}  {name:<9} {wall:8.2f} s  {peak:8.0f} MiB",
                        flush=True,
                    )
            theirs = json.loads(out.read_text())
            columns = sorted(theirs)
            same = sum(ours.get(c) == theirs[c] for c in columns)
            truth_ours = sum(ours.get(c) == (c in drifted) for c in columns)
            truth_theirs = sum(theirs[c] == (c in drifted) for c in columns)
            t_ours, t_theirs = (
                statistics.median(times["mlops"]),
                statistics.median(times["evidently"]),
            )
            m_ours, m_theirs = (
                statistics.median(memory["mlops"]),
                statistics.median(memory["evidently"]),
            )
            rows_out.append(
                (
                    size,
                    t_ours,
                    t_theirs,
                    m_ours,
                    m_theirs,
                    same,
                    truth_ours,
                    truth_theirs,
                    len(columns),
                )
            )
    print()
    print(
        "| rows x 50 columns | mlops monitor | Evidently | speed-up | peak memory mlops / "
        "Evidently | verdicts agree | right (mlops / Evidently) |"
    )
    print("|---|---|---|---|---|---|---|")
    for size, t1, t2, m1, m2, same, r1, r2, n in rows_out:
        print(
            f"| {size:,} | {t1:.1f} s | {t2:.1f} s | {t2 / t1:.1f}x | {m1:.0f} / {m2:.0f} MiB "
            f"({m1 / m2:.2f}) | {same}/{n} | {r1}/{n} / {r2}/{n} |"
        )
    shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
