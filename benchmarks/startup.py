"""Start-up cost of the commands people run on every save, side by side.

Times `python -c pass` (the floor), `mlops --version`, `mlops --help`,
`mlops validate` on the `mlops init` example and, for reference, `dvc --help`,
interleaved round by round so machine noise hits every command alike. Prints
the median wall time of each and its ratio to the floor and to `dvc --help`.

    .venv/bin/python benchmarks/startup.py [--rounds 15] [--json]

With --json it prints one JSON list of rows (what, ours_s, peer, peer_s, ratio,
goal) for `benchmarks/all.py`: `mlops --help` and `mlops validate` against
`dvc --help`, each at most 1.0x.
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

from compile_vs_dvc import compile_sources


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=15, help="timed runs of each command")
    parser.add_argument("--json", action="store_true", help="print one JSON list of result rows")
    args = parser.parse_args()

    py = sys.executable
    bindir = Path(py).parent
    compile_sources()
    work = Path(tempfile.mkdtemp()) / "demo"
    subprocess.run([py, "-m", "runner", "init", str(work)], check=True, capture_output=True)
    commands = {
        "python -c pass": [py, "-c", "pass"],
        "mlops --version": [py, "-m", "runner", "--version"],
        "mlops --help": [py, "-m", "runner", "--help"],
        "mlops validate": [py, "-m", "runner", "validate"],
    }
    dvc = shutil.which("dvc", path=str(bindir)) or shutil.which("dvc")
    if dvc:
        commands["dvc --help"] = [dvc, "--help"]
    for cmd in commands.values():  # warm the file cache once
        subprocess.run(cmd, cwd=work, capture_output=True, check=True)
    times: dict[str, list[float]] = {name: [] for name in commands}
    for _ in range(args.rounds):
        for name, cmd in commands.items():
            start = time.perf_counter()
            subprocess.run(cmd, cwd=work, capture_output=True, check=True)
            times[name].append(time.perf_counter() - start)
    shutil.rmtree(work.parent, ignore_errors=True)
    floor = statistics.median(times["python -c pass"])
    ref = statistics.median(times["dvc --help"]) if "dvc --help" in times else None
    if args.json:
        rows = [
            {
                "what": f"{name} (one pipeline)" if name == "mlops validate" else name,
                "ours_s": statistics.median(times[name]),
                "peer": "dvc --help",
                "peer_s": ref,
                "ratio": statistics.median(times[name]) / ref if ref else None,
                "goal": "<= 1.00",
            }
            for name in ("mlops --help", "mlops validate")
        ]
        print(json.dumps(rows))
        return
    print(f"{'command':<18} {'median ms':>10} {'x python':>9} {'x dvc --help':>13}")
    for name, samples in times.items():
        med = statistics.median(samples)
        vs_dvc = f"{med / ref:13.2f}" if ref else f"{'-':>13}"
        print(f"{name:<18} {med * 1000:10.1f} {med / floor:9.2f} {vs_dvc}")


if __name__ == "__main__":
    main()
