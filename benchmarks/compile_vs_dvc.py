"""What the generated DVC layout costs, and what `mlops compile` costs next to DVC.

Builds N pipelines of M trivial copy stages (`cp` of a few bytes, so DVC's own
bookkeeping is all that is measured) in throw-away git repos, then:

1. First `dvc repro` (fresh repo, empty cache) of the layout `mlops compile`
   generates -- one `pipelines/<name>/dvc.yaml` per pipeline plus a root
   `dvc.yaml` with one manifest stage per pipeline -- against the same N*M stages
   (same commands, deps and outs) hand-written in ONE root `dvc.yaml`. DVC
   rewrites a file's whole `dvc.lock` after every stage, so the single file
   grows quadratically. Both runs are checked (every output present with the
   right bytes, every stage in a `dvc.lock`) before anything is reported.
2. `mlops compile` -- a no-op recompile of that project and a full compile
   into a fresh tree -- against `dvc status` on the same compiled, reproduced
   project: the median of --rounds runs each.

Prints one table: what was timed, seconds, and a ratio (part 1: against the
per-pipeline layout; part 2: against `dvc status`).

    .venv/bin/python benchmarks/compile_vs_dvc.py [--pipelines 50] [--stages 4] [--rounds 5]
    .venv/bin/python benchmarks/compile_vs_dvc.py --quick     # 5 x 4, a smoke test
    .venv/bin/python benchmarks/compile_vs_dvc.py --json      # one JSON list of rows (all.py)

The default run takes a few minutes, almost all of it the one-file `dvc repro`.
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
from collections.abc import Callable
from pathlib import Path

import yaml

BIN = Path(sys.executable).parent


def tool(name: str) -> str:
    """The `name` executable of this venv, else the one on PATH."""
    found = shutil.which(name, path=str(BIN)) or shutil.which(name)
    if found is None:
        sys.exit(f"error: {name} not found next to {sys.executable} or on PATH")
    return found


def compile_sources() -> None:
    """Byte-compile `src/` as an installed wheel would be, so no timed run compiles our
    modules (an editable install leaves that to the first run, and never does it where
    PYTHONDONTWRITEBYTECODE is set)."""
    src = Path(__file__).resolve().parents[1] / "src"
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(src)], check=True)


def bench_env(home: Path) -> dict[str, str]:
    """An environment that keeps DVC and git quiet, isolated and committable (and the
    sources byte-compiled, see `compile_sources`)."""
    compile_sources()
    env = dict(os.environ)
    env.update(
        {
            # The manifest stages run `python -m runner.steps`: use this venv's python.
            "PATH": f"{BIN}{os.pathsep}{env.get('PATH', '')}",
            "HOME": str(home),
            "DVC_NO_ANALYTICS": "1",
            "GIT_AUTHOR_NAME": "bench",
            "GIT_AUTHOR_EMAIL": "bench@example.com",
            "GIT_COMMITTER_NAME": "bench",
            "GIT_COMMITTER_EMAIL": "bench@example.com",
            "GIT_CONFIG_NOSYSTEM": "1",
        }
    )
    return env


def run(cmd: list[str], cwd: Path, env: dict[str, str]) -> None:
    """Run `cmd`; on failure show the command, exit code, stdout and stderr, then stop."""
    try:
        subprocess.run(cmd, cwd=cwd, env=env, check=True, capture_output=True, text=True)
    except subprocess.CalledProcessError as err:
        sys.exit(
            f"error: {' '.join(cmd)} (in {cwd}) exited with {err.returncode}\n"
            f"stdout:\n{err.stdout}\nstderr:\n{err.stderr}"
        )


def timed(cmd: list[str], cwd: Path, env: dict[str, str]) -> float:
    start = time.perf_counter()
    run(cmd, cwd, env)
    return time.perf_counter() - start


def pipeline_names(n: int) -> list[str]:
    width = max(2, len(str(n)))
    return [f"p{i:0{width}d}" for i in range(1, n + 1)]


def copy_stages(name: str, m: int) -> dict[str, dict[str, object]]:
    """M stages of one pipeline: data/<name>.txt copied along a chain of files."""
    stages: dict[str, dict[str, object]] = {}
    prev = f"data/{name}.txt"
    for j in range(1, m + 1):
        out = f"outputs/{name}/s{j}.txt"
        stages[f"s{j}"] = {"cmd": f"cp {prev} {out}", "deps": [prev], "outs": [out]}
        prev = out
    return stages


def dump(path: Path, data: object) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(data, sort_keys=False))


def write_inputs(root: Path, names: list[str]) -> None:
    for name in names:
        (root / "data").mkdir(parents=True, exist_ok=True)
        (root / "data" / f"{name}.txt").write_text(f"{name}\n")
        # DVC does not create an output's parent folder and `cp` will not either.
        (root / "outputs" / name).mkdir(parents=True, exist_ok=True)


def write_mlops_sources(root: Path, names: list[str], m: int) -> None:
    (root / "mlops.yaml").write_text("version: 1\nproject: bench\n")
    for name in names:
        dump(root / "pipelines" / f"{name}.yaml", {"stages": copy_stages(name, m)})


def write_one_file(root: Path, names: list[str], m: int) -> None:
    stages = {
        f"{name}-{stage}": spec for name in names for stage, spec in copy_stages(name, m).items()
    }
    dump(root / "dvc.yaml", {"stages": stages})


def init_repo(root: Path, env: dict[str, str]) -> None:
    root.mkdir(parents=True, exist_ok=True)
    run(["git", "init", "-q"], root, env)
    run([tool("dvc"), "init", "-q"], root, env)


def commit(root: Path, env: dict[str, str]) -> None:
    run(["git", "add", "-A"], root, env)
    run(["git", "commit", "-q", "-m", "bench"], root, env)


def locked_stages(root: Path) -> int:
    total = 0
    for lock in root.rglob("dvc.lock"):
        total += len((yaml.safe_load(lock.read_text()) or {}).get("stages", {}))
    return total


def check_reproduced(root: Path, names: list[str], m: int, expect_locked: int) -> None:
    """Stop unless every chain ends in the right bytes and every stage was locked."""
    problems = [
        f"{name}/s{j}"
        for name in names
        for j in range(1, m + 1)
        if not (out := root / "outputs" / name / f"s{j}.txt").is_file()
        or out.read_text() != f"{name}\n"
    ]
    locked = locked_stages(root)
    if problems or locked != expect_locked:
        sys.exit(
            f"error: dvc repro in {root} did not run everything: "
            f"{len(problems)} output(s) missing or wrong (e.g. {problems[:3]}), "
            f"{locked} of {expect_locked} stages in dvc.lock files"
        )


def median_of(rounds: int, once: Callable[[], float]) -> float:
    return statistics.median(once() for _ in range(rounds))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pipelines", type=int, default=50, help="pipelines (N)")
    parser.add_argument("--stages", type=int, default=4, help="copy stages per pipeline (M)")
    parser.add_argument("--rounds", type=int, default=5, help="timed runs of each part-2 command")
    parser.add_argument("--quick", action="store_true", help="5 pipelines x 4 stages, 3 rounds")
    parser.add_argument("--json", action="store_true", help="print one JSON list of result rows")
    args = parser.parse_args()
    n, m, rounds = (5, 4, 3) if args.quick else (args.pipelines, args.stages, args.rounds)
    if n < 1 or m < 1 or rounds < 1:
        parser.error("--pipelines, --stages and --rounds must be at least 1")

    mlops, dvc = tool("mlops"), tool("dvc")
    names = pipeline_names(n)
    tmp = Path(tempfile.mkdtemp(prefix="mlops-bench-"))
    env = bench_env(tmp / "home")
    (tmp / "home").mkdir()
    rows: list[tuple[str, float, float]] = []
    try:
        # 1. First `dvc repro`: generated per-pipeline files vs one hand-written file.
        split = tmp / "per-pipeline"
        init_repo(split, env)
        write_mlops_sources(split, names, m)
        write_inputs(split, names)
        run([mlops, "validate"], split, env)
        run([mlops, "compile"], split, env)
        commit(split, env)
        t_split = timed([dvc, "repro"], split, env)
        check_reproduced(split, names, m, expect_locked=n * m + n)
        if missing := [x for x in names if not (split / "outputs" / x / "manifest.json").is_file()]:
            sys.exit(f"error: root stages wrote no manifest for {missing[:3]}")

        single = tmp / "one-file"
        init_repo(single, env)
        write_one_file(single, names, m)
        write_inputs(single, names)
        commit(single, env)
        t_single = timed([dvc, "repro"], single, env)
        check_reproduced(single, names, m, expect_locked=n * m)

        rows += [
            (f"dvc repro, per-pipeline files ({n * m}+{n} root stages)", t_split, 1.0),
            (f"dvc repro, one dvc.yaml ({n * m} stages)", t_single, t_single / t_split),
        ]

        # 2. `mlops compile` vs `dvc status` on the compiled, reproduced project.
        run([dvc, "status"], split, env)  # warm the file cache once
        t_status = median_of(rounds, lambda: timed([dvc, "status"], split, env))
        t_noop = median_of(rounds, lambda: timed([mlops, "compile"], split, env))

        def fresh_compile() -> float:
            tree = Path(tempfile.mkdtemp(dir=tmp, prefix="fresh-"))
            shutil.copy2(split / "mlops.yaml", tree / "mlops.yaml")
            (tree / "pipelines").mkdir()
            for name in names:
                src = split / "pipelines" / f"{name}.yaml"
                shutil.copy2(src, tree / "pipelines" / src.name)
            return timed([mlops, "compile"], tree, env)

        t_fresh = median_of(rounds, fresh_compile)
        rows += [
            ("dvc status (up to date)", t_status, 1.0),
            ("mlops compile, no-op", t_noop, t_noop / t_status),
            ("mlops compile, fresh tree", t_fresh, t_fresh / t_status),
        ]
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    if args.json:
        layout, one_file, status, noop, fresh = rows
        print(
            json.dumps(
                [
                    {
                        "what": f"first dvc repro, generated layout ({n} x {m} stages)",
                        "ours_s": layout[1],
                        "peer": "the same stages in one dvc.yaml",
                        "peer_s": one_file[1],
                        "ratio": layout[1] / one_file[1],
                        "goal": "<= 1.00",
                    },
                    {
                        "what": f"mlops compile, no-op ({n} pipelines)",
                        "ours_s": noop[1],
                        "peer": "dvc status",
                        "peer_s": status[1],
                        "ratio": noop[2],
                        "goal": "",
                    },
                    {
                        "what": f"mlops compile, fresh tree ({n} pipelines)",
                        "ours_s": fresh[1],
                        "peer": "dvc status",
                        "peer_s": status[1],
                        "ratio": fresh[2],
                        "goal": "",
                    },
                ]
            )
        )
        return
    width = max(len(what) for what, _, _ in rows)
    print(f"{n} pipelines x {m} stages; part 2: median of {rounds} runs")
    print(f"{'what':<{width}} {'seconds':>8} {'ratio':>6}")
    for i, (what, seconds, ratio) in enumerate(rows):
        if i == 2:
            print()
        print(f"{what:<{width}} {seconds:8.2f} {ratio:6.2f}")


if __name__ == "__main__":
    main()
