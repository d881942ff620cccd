"""The registry at scale: `mlops status`, `history`, `promote` and `deploy` against `gto show`.

Builds one repository: the `mlops init` example, trained, registered (v0.1.0)
and deployed to staging by the real commands; then, with one `git fast-import`,
--versions more versions of the same model (v0.0.1 ... on the same commit, each
with the real version record renumbered, so `latest` stays v0.1.0) and
--models - 1 other models with --others versions each. Times, round by round:
`mlops status`, `mlops history`, `mlops promote` (to production, undone
between rounds), `mlops deploy` (nothing to do) and `gto show`, and prints each
one's median wall time over that of `gto show` (goal: at most 0.1).

    .venv/bin/python benchmarks/registry_scale.py [--versions 2000] [--models 20] [--json]

Setting up trains the example once (a minute or two on a busy machine).
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from compile_vs_dvc import bench_env, run, tool

MODEL = "iris-classifier"


def git(root: Path, env: dict[str, str], *args: str, input: str | None = None) -> str:
    done = subprocess.run(
        ["git", *args], cwd=root, env=env, input=input, capture_output=True, text=True
    )
    if done.returncode != 0:
        sys.exit(f"error: git {' '.join(args)} exited {done.returncode}: {done.stderr}")
    return done.stdout


def build(root: Path, env: dict[str, str]) -> None:
    mlops = tool("mlops")
    run([mlops, "init", str(root)], root.parent, env)
    git(root, env, "init", "-q", "-b", "main")
    git(root, env, "add", "-A")
    git(root, env, "commit", "-qm", "the example project")
    run([mlops, "compile"], root, env)
    run([mlops, "run"], root, env)
    git(root, env, "add", "-A")
    git(root, env, "commit", "-qm", "train the example")
    run([mlops, "register", "iris"], root, env)
    run([mlops, "deploy"], root, env)
    git(root, env, "add", "-A")
    git(root, env, "commit", "-qm", "deployed", "--allow-empty")


def add_versions(root: Path, env: dict[str, str], versions: int, models: int, others: int) -> int:
    """Annotated version tags written by one `git fast-import`; returns how many."""
    real = git(root, env, "cat-file", "tag", f"{MODEL}@v0.1.0")
    message = real.split("\n\n", 1)[1]  # after the tag's header
    record = json.loads(message.partition("\n\n")[2])  # after the summary line
    commit = record["commit"]
    stream: list[str] = []
    count = 0

    def tag(model: str, version: str, when: int) -> None:
        data = dict(record, model=model, version=version)
        text = (
            f"Registering artifact {model} version {version}\n\n"
            f"{json.dumps(data, indent=2, sort_keys=True)}\n"
        )
        size = len(text.encode())
        stream.append(
            f"tag {model}@{version}\nfrom {commit}\n"
            f"tagger bench <bench@example.com> {when} +0000\ndata {size}\n{text}\n"
        )

    start = 1_700_000_000
    for patch in range(1, versions + 1):  # v0.0.N sort below the real v0.1.0
        tag(MODEL, f"v0.0.{patch}", start + patch)
        count += 1
    for m in range(1, models):
        for patch in range(1, others + 1):
            tag(f"other-{m:02d}", f"v1.0.{patch}", start + patch)
            count += 1
    git(root, env, "fast-import", "--quiet", input="".join(stream))
    return count


def timed(cmd: list[str], cwd: Path, env: dict[str, str], ok: tuple[int, ...] = (0,)) -> float:
    start = time.perf_counter()
    done = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True)
    took = time.perf_counter() - start
    if done.returncode not in ok:
        sys.exit(
            f"error: {' '.join(cmd)} exited {done.returncode}\n{done.stdout[-2000:]}\n"
            f"{done.stderr[-2000:]}"
        )
    return took


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--versions", type=int, default=2000, help="versions of the one model")
    parser.add_argument("--models", type=int, default=20, help="models in the registry")
    parser.add_argument("--others", type=int, default=20, help="versions of each other model")
    parser.add_argument("--rounds", type=int, default=3, help="timed runs of each command")
    parser.add_argument("--json", action="store_true", help="print one JSON list of result rows")
    args = parser.parse_args()
    if args.versions < 1 or args.models < 1 or args.rounds < 1:
        parser.error("--versions, --models and --rounds must be at least 1")

    mlops, gto = tool("mlops"), tool("gto")
    tmp = Path(tempfile.mkdtemp(prefix="mlops-registry-"))
    (tmp / "home").mkdir()
    env = bench_env(tmp / "home")
    root = tmp / "demo"
    try:
        build(root, env)
        tags = add_versions(root, env, args.versions, args.models, args.others) + 1
        restore = ["git", "checkout", "--quiet", "--", "deployments.yaml"]
        commands = {
            "gto show": ([gto, "show"], (0,)),
            "mlops status": ([mlops, "status"], (0,)),
            "mlops history": ([mlops, "history", MODEL], (0,)),
            "mlops promote": ([mlops, "promote", MODEL, "--to", "production"], (0,)),
            "mlops deploy": ([mlops, "deploy", "--env", "staging"], (0,)),
        }
        for cmd, ok in commands.values():  # warm the caches once
            timed(cmd, root, env, ok)
            subprocess.run(restore, cwd=root, env=env, check=True)
        times: dict[str, list[float]] = {name: [] for name in commands}
        for _ in range(args.rounds):
            for name, (cmd, ok) in commands.items():
                times[name].append(timed(cmd, root, env, ok))
                subprocess.run(restore, cwd=root, env=env, check=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    med = {name: statistics.median(values) for name, values in times.items()}
    peer = med["gto show"]
    rows = [
        {
            "what": f"{name}, {args.versions + 1} versions of a model, {tags} tags",
            "ours_s": med[name],
            "peer": "gto show",
            "peer_s": peer,
            "ratio": med[name] / peer,
            "goal": "<= 0.10",
        }
        for name in commands
        if name != "gto show"
    ]
    if args.json:
        print(json.dumps(rows))
        return
    print(f"{tags} version tags ({args.models} models); median wall time of {args.rounds} rounds")
    print(f"{'command':<15} {'seconds':>8} {'x gto show':>11}")
    for name, seconds in med.items():
        print(f"{name:<15} {seconds:8.3f} {seconds / peer:11.3f}")


if __name__ == "__main__":
    main()
