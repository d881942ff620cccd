"""Every comparison of `benchmarks/` in one run, as one table of ratios.

Runs each benchmark script as a subprocess with `--json` (each prints exactly
one JSON list of rows: what, ours_s, peer, peer_s, ratio, goal), skips a
script that is missing with a note, and prints one table: what, ours, peer,
ratio, goal, pass/fail. A row without a goal is for information. Exits 1 when
a row misses its goal or a script fails.

    .venv/bin/python benchmarks/all.py [--quick] [--only NAME ...]

--quick passes each script smaller sizes and fewer rounds (a smoke test: its
ratios are not the measured figures of docs/performance.md).
"""

from __future__ import annotations

import argparse
import json
import operator
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent

# Script, its arguments, and its quick arguments.
BENCHMARKS: list[tuple[str, list[str], list[str]]] = [
    ("startup.py", [], ["--rounds", "5"]),
    ("compile_vs_dvc.py", [], ["--quick"]),
    ("compile_scale.py", [], ["--small", "20", "--large", "200", "--rounds", "1"]),
    ("registry_scale.py", [], ["--versions", "200", "--models", "5", "--rounds", "1"]),
    ("noop_run.py", [], ["--rounds", "3"]),
    ("train_vs_script.py", ["--rows", "200000", "--rounds", "3"], ["--rounds", "1"]),
    ("stage_overhead.py", ["--server"], ["--server", "--rounds", "3"]),
]

_COMPARE = {"<=": operator.le, ">=": operator.ge, "<": operator.lt, ">": operator.gt}


def verdict(row: dict[str, object]) -> str:
    """pass / FAIL against the row's goal (`<= 1.10`), or `-` without one."""
    goal = str(row.get("goal") or "").split()
    ratio = row.get("ratio")
    if len(goal) != 2 or goal[0] not in _COMPARE or not isinstance(ratio, (int, float)):
        return "-"
    return "pass" if _COMPARE[goal[0]](ratio, float(goal[1])) else "FAIL"


def seconds(value: object) -> str:
    return f"{value:.3f}" if isinstance(value, (int, float)) else "-"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, few rounds")
    parser.add_argument(
        "--only", nargs="+", metavar="NAME", help="run only these scripts (e.g. startup.py)"
    )
    args = parser.parse_args()

    rows: list[dict[str, object]] = []
    notes: list[str] = []
    failed = False
    for script, full, quick in BENCHMARKS:
        if args.only and script not in args.only:
            continue
        path = HERE / script
        if not path.is_file():
            notes.append(f"skipped {script}: not in {HERE}")
            continue
        cmd = [sys.executable, str(path), "--json", *(quick if args.quick else full)]
        sys.stderr.write(f"running {' '.join(cmd[1:])}\n")
        start = time.perf_counter()
        done = subprocess.run(cmd, cwd=HERE, capture_output=True, text=True)
        took = time.perf_counter() - start
        try:
            found = json.loads(done.stdout) if done.returncode == 0 else None
        except ValueError:
            found = None
        if not isinstance(found, list):
            failed = True
            tail = (done.stderr or done.stdout).strip().splitlines()[-3:]
            notes.append(f"FAILED {script} (exit {done.returncode}): {' / '.join(tail)}")
            continue
        sys.stderr.write(f"  {len(found)} row(s) in {took:.0f} s: {json.dumps(found)}\n")
        rows += found

    headers = ("what", "ours s", "peer", "peer s", "ratio", "goal", "result")
    table = [
        [
            str(row.get("what", "")),
            seconds(row.get("ours_s")),
            str(row.get("peer", "")),
            seconds(row.get("peer_s")),
            f"{row['ratio']:.2f}" if isinstance(row.get("ratio"), (int, float)) else "-",
            str(row.get("goal") or "-"),
            verdict(row),
        ]
        for row in rows
    ]
    widths = [max(len(h), *(len(r[i]) for r in table)) for i, h in enumerate(headers)]
    print("  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)).rstrip())
    for line in table:
        print("  ".join(c.ljust(w) for c, w in zip(line, widths, strict=True)).rstrip())
    for note in notes:
        print(f"note: {note}")
    missed = [row for row in rows if verdict(row) == "FAIL"]
    return 1 if failed or missed else 0


if __name__ == "__main__":
    sys.exit(main())
