"""What a built-in stage process costs before it does useful work, per step.

Sets up the `mlops init` example on a small generated CSV (so the data work is
negligible and the wall time of a stage is its overhead: interpreter, imports,
reading options) and times `python -m runner.steps <pipeline> <stage>` for
ingest, split, train, evaluate and the root stage's `--manifest`. With `--before
REV` the same stages also run with the `src/` of git revision REV, interleaved
round by round, and the table gives the ratio of the medians of paired runs.
It also lists the heavy packages each stage imports now, and `--parquet`
measures the parquet writer settings that `runner.ml.files` chose.

`--server` times what the stages cost inside `mlops run`: a whole
`mlops run --force --no-run-cache` (5 stages on the small CSV) with the run's fork
server (`runner.forkserver`, the default) against the same run with each stage in
a process of its own (`MLOPS_STEP_SERVER=`), interleaved round by round.

    .venv/bin/python benchmarks/stage_overhead.py [--before REV] [--rounds 7] [--json]
    .venv/bin/python benchmarks/stage_overhead.py --server [--rounds 7] [--json]
    .venv/bin/python benchmarks/stage_overhead.py --parquet [--rows 200000]
"""

from __future__ import annotations

import argparse
import io
import json
import os
import shutil
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(HERE))

from train_vs_script import set_up, write_data  # noqa: E402

STAGES = ("ingest", "split", "train", "evaluate", "--manifest")
HEAVY = ("sklearn", "skops", "scipy", "joblib", "pytest", "pandas", "pyarrow")


def source_of(rev: str, into: Path) -> Path:
    """The `src/` folder of git revision `rev`, unpacked below `into`."""
    tar = subprocess.run(
        ["git", "-C", str(REPO), "archive", "--format=tar", rev, "src"],
        check=True,
        capture_output=True,
    ).stdout
    with tarfile.open(fileobj=io.BytesIO(tar)) as archive:
        archive.extractall(into, filter="data")
    return into / "src"


def stage_cmd(stage: str) -> list[str]:
    args = ["--manifest", "bench"] if stage == "--manifest" else ["bench", stage]
    return [sys.executable, "-m", "runner.steps", *args]


def run_stage(stage: str, root: Path, env: dict[str, str], src: Path) -> float:
    start = time.perf_counter()
    subprocess.run(
        stage_cmd(stage),
        cwd=root,
        env={**env, "PYTHONPATH": str(src)},
        check=True,
        capture_output=True,
    )
    return time.perf_counter() - start


def heavy_imports(stage: str, root: Path, env: dict[str, str], src: Path) -> list[str]:
    """The packages of HEAVY that the stage imports (python -X importtime)."""
    done = subprocess.run(
        [sys.executable, "-X", "importtime", *stage_cmd(stage)[1:]],
        cwd=root,
        env={**env, "PYTHONPATH": str(src)},
        check=True,
        capture_output=True,
        text=True,
    )
    names = {
        line.split("|")[-1].strip().split(".")[0]
        for line in done.stderr.splitlines()
        if line.startswith("import time:")
    }
    return [name for name in HEAVY if name in names]


def overhead(args: argparse.Namespace) -> None:
    work = Path(tempfile.mkdtemp(prefix="stage-overhead-"))
    try:
        root, _, env = set_up(work, args.rows, 10)
        sides = {"now": REPO / "src"}
        if args.before:
            sides = {"before": source_of(args.before, work / "before"), **sides}
        for stage in STAGES:  # inputs for every stage, and a warm file cache
            for src in sides.values():
                run_stage(stage, root, env, src)
        times: dict[tuple[str, str], list[float]] = {
            (stage, side): [] for stage in STAGES for side in sides
        }
        for turn in range(args.rounds):
            for stage in STAGES:
                order = list(sides.items())
                for side, src in order if turn % 2 == 0 else reversed(order):
                    times[(stage, side)].append(run_stage(stage, root, env, src))
        rows = []
        for stage in STAGES:
            now = statistics.median(times[(stage, "now")])
            row = {"what": f"stage {stage.lstrip('-')} overhead", "ours_s": round(now, 3)}
            if args.before:
                paired = zip(times[(stage, "now")], times[(stage, "before")], strict=True)
                row.update(
                    peer=f"src at {args.before}",
                    peer_s=round(statistics.median(times[(stage, "before")]), 3),
                    ratio=round(statistics.median(a / b for a, b in paired), 3),
                    goal="< 1.00",
                )
            row["imports"] = heavy_imports(stage, root, env, sides["now"])
            rows.append(row)
        if args.json:
            print(json.dumps([{k: v for k, v in r.items() if k != "imports"} for r in rows]))
            return
        print(f"stage process overhead, {args.rows}-row CSV, median of {args.rounds} rounds")
        print(f"{'stage':<10} {'before s':>9} {'now s':>7} {'ratio':>6}  heavy imports now")
        for stage, row in zip(STAGES, rows, strict=True):
            before = f"{row['peer_s']:>9}" if args.before else f"{'-':>9}"
            ratio = f"{row['ratio']:>6}" if args.before else f"{'-':>6}"
            imports = ", ".join(row["imports"])
            print(f"{stage.lstrip('-'):<10} {before} {row['ours_s']:>7} {ratio}  {imports}")
    finally:
        shutil.rmtree(work, ignore_errors=True)


def server(args: argparse.Namespace) -> None:
    """`mlops run --force --no-run-cache` with the step server and with stages alone."""
    work = Path(tempfile.mkdtemp(prefix="stage-server-"))
    try:
        root, _, env = set_up(work, args.rows, 10)
        sides = {"server": env, "alone": {**env, "MLOPS_STEP_SERVER": ""}}
        cmd = ["mlops", "run", "--force", "--no-run-cache"]
        for side_env in sides.values():  # a warm file cache for both
            subprocess.run(cmd, cwd=root, env=side_env, check=True, capture_output=True)
        times: dict[str, list[float]] = {side: [] for side in sides}
        for turn in range(args.rounds):
            order = list(sides.items())
            for side, side_env in order if turn % 2 == 0 else reversed(order):
                start = time.perf_counter()
                subprocess.run(cmd, cwd=root, env=side_env, check=True, capture_output=True)
                times[side].append(time.perf_counter() - start)
        paired = zip(times["server"], times["alone"], strict=True)
        row = {
            "what": f"mlops run --force, 5 stages, {args.rows}-row CSV, with the step server",
            "ours_s": round(statistics.median(times["server"]), 3),
            "peer": "each stage in a process of its own",
            "peer_s": round(statistics.median(times["alone"]), 3),
            "ratio": round(statistics.median(a / b for a, b in paired), 3),
            "goal": "< 1.00",
        }
        if args.json:
            print(json.dumps([row]))
            return
        print(f"mlops run --force --no-run-cache, {args.rows}-row CSV, {args.rounds} rounds")
        print(f"with the step server {row['ours_s']:7.2f} s")
        print(f"each stage alone     {row['peer_s']:7.2f} s   ratio {row['ratio']}")
    finally:
        shutil.rmtree(work, ignore_errors=True)


def parquet(args: argparse.Namespace) -> None:
    """Write and read the generated table with each candidate setting."""
    import pandas as pd
    import pyarrow as pa
    import pyarrow.parquet as pq

    from runner.ml.files import dictionary_columns

    work = Path(tempfile.mkdtemp(prefix="parquet-settings-"))
    try:
        write_data(work / "data.csv", args.rows)
        frame = pd.read_csv(work / "data.csv")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    table = pa.Table.from_pandas(frame, preserve_index=False)
    text = dictionary_columns(table)
    variants: dict[str, dict[str, object]] = {
        "pyarrow defaults (snappy, dictionary everywhere)": {},
        "no compression": {"compression": "none"},
        "zstd level 1": {"compression": "zstd", "compression_level": 1},
        "no dictionary": {"use_dictionary": False},
        "row groups of 64k rows": {"row_group_size": 65536},
        "snappy, dictionary on text only (chosen)": {"use_dictionary": text},
    }
    samples: dict[str, list[tuple[float, float]]] = {name: [] for name in variants}
    sizes: dict[str, int] = {}
    for _ in range(args.rounds):
        for name, options in variants.items():
            start = time.perf_counter()
            sink = pa.BufferOutputStream()
            pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), sink, **options)
            data = sink.getvalue()
            wrote = time.perf_counter()
            pq.read_table(pa.BufferReader(data)).to_pandas()
            samples[name].append((wrote - start, time.perf_counter() - wrote))
            sizes[name] = data.size
    print(f"parquet settings, {args.rows} rows x 21 columns, median of {args.rounds} rounds")
    print(f"{'setting':<50} {'write ms':>9} {'read ms':>8} {'MB':>6}")
    for name, pairs in samples.items():
        write = statistics.median(w for w, _ in pairs) * 1000
        read = statistics.median(r for _, r in pairs) * 1000
        print(f"{name:<50} {write:9.0f} {read:8.0f} {sizes[name] / 1e6:6.1f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", metavar="REV", help="also time the src/ of this revision")
    parser.add_argument("--rounds", type=int, default=7, help="timed runs of each stage")
    parser.add_argument("--rows", type=int, default=1000, help="rows of the generated CSV")
    parser.add_argument("--json", action="store_true", help="print one JSON list of rows")
    parser.add_argument("--parquet", action="store_true", help="measure parquet settings")
    parser.add_argument(
        "--server", action="store_true", help="mlops run with the step server and without"
    )
    args = parser.parse_args()
    os.environ.setdefault("PYDANTIC_DISABLE_PLUGINS", "__all__")
    if args.parquet:
        parquet(args)
    elif args.server:
        server(args)
    else:
        overhead(args)


if __name__ == "__main__":
    main()
