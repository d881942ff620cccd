"""`mlops serve` against MLServer's scikit-learn runtime: same model, same worker count.

Both serve the example's iris model (trained here with `mlops init` + `mlops run` unless
`--model-dir` names a folder): mlops from its skops folder, MLServer from the same
scikit-learn pipeline exported with joblib, in its own virtualenv (created under /tmp
on first use: `pip install mlserver mlserver-sklearn scikit-learn==<ours>`). Each is
loaded in turn with the same V2 request, one input per column (`content_type: pd`, so
MLServer hands the runtime a DataFrame), at batch 1 and batch 100, with `wrk` when it
is installed (`apt-get install -y wrk`), else a bounded asyncio client. Rounds alternate
between the servers so machine noise hits both alike. Prints requests per second, p50
and p99 latency, and the ratios mlops / MLServer. The prediction log is off (MLServer
keeps none).

    .venv/bin/python benchmarks/serve_vs_mlserver.py [--workers 1] [--duration 10]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

MODEL = "iris-classifier"
FEATURES = ["sepal_length_cm", "sepal_width_cm", "petal_length_cm", "petal_width_cm"]
ROWS = [[5.1, 3.5, 1.4, 0.2], [6.7, 3.0, 5.2, 2.3], [5.9, 3.0, 4.2, 1.5]]

WRK_SCRIPT = """
wrk.method = "POST"
wrk.body = io.open("{body}"):read("*a")
wrk.headers["Content-Type"] = "application/json"
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("RESULT %d %d %f %f %d\\n", summary.requests, summary.duration,
    latency:percentile(50), latency:percentile(99),
    e.status + e.connect + e.read + e.write + e.timeout))
end
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def train_example(work: Path) -> Path:
    py = sys.executable
    root = work / "demo"
    env = {**os.environ, "DVC_NO_ANALYTICS": "1"}

    def sh(*cmd: str) -> None:
        subprocess.run(cmd, cwd=root, env=env, check=True, capture_output=True)

    subprocess.run([py, "-m", "runner", "init", str(root)], check=True, capture_output=True)
    sh("git", "init", "-q")
    sh("git", "add", "-A")
    sh("git", "-c", "user.name=bench", "-c", "user.email=b@e", "commit", "-qm", "init")
    sh(py, "-m", "runner", "compile")
    sh(py, "-m", "runner", "run")
    return root / "outputs/iris/train/model"


def mlserver_venv(path: Path) -> Path:
    python = path / "bin/python"
    if not (path / "bin/mlserver").exists():
        import sklearn

        subprocess.run([sys.executable, "-m", "venv", str(path)], check=True)
        subprocess.run(
            [
                str(python),
                "-m",
                "pip",
                "install",
                "-q",
                "mlserver",
                "mlserver-sklearn",
                f"scikit-learn=={sklearn.__version__}",
                # MLServer 1.7's inference workers call asyncio.get_event_loop() outside
                # a running loop, which uvloop 0.22 refuses: they die at start.
                "uvloop<0.22",
            ],
            check=True,
        )
    return path / "bin/mlserver"


def export_for_mlserver(model_dir: Path, dest: Path, http: int, workers: int) -> None:
    import joblib

    from runner.serve.loader import load_dir

    dest.mkdir(parents=True, exist_ok=True)
    joblib.dump(load_dir(model_dir).estimator, dest / "model.joblib")
    (dest / "model-settings.json").write_text(
        json.dumps(
            {
                "name": MODEL,
                "implementation": "mlserver_sklearn.SKLearnModel",
                "parameters": {"uri": "./model.joblib", "version": "v1"},
            }
        )
    )
    (dest / "settings.json").write_text(
        json.dumps(
            {
                "http_port": http,
                "grpc_port": free_port(),
                "metrics_port": free_port(),
                "parallel_workers": workers,
                "debug": False,
            }
        )
    )


def body(batch: int) -> dict[str, Any]:
    rows = [ROWS[i % len(ROWS)] for i in range(batch)]
    return {
        "parameters": {"content_type": "pd"},
        "inputs": [
            {"name": f, "shape": [batch], "datatype": "FP64", "data": [r[j] for r in rows]}
            for j, f in enumerate(FEATURES)
        ],
    }


def wait_ready(url: str, proc: subprocess.Popen[bytes], what: str) -> None:
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"{what} exited {proc.returncode}")
        try:
            if httpx.get(f"{url}/v2/models/{MODEL}/ready", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise SystemExit(f"{what} did not get ready")


def run_wrk(url: str, payload: Path, connections: int, duration: float) -> dict[str, float]:
    script = payload.with_suffix(".lua")
    script.write_text(WRK_SCRIPT.format(body=payload))
    out = subprocess.run(
        ["wrk", "-t1", f"-c{connections}", f"-d{int(duration)}s", "-s", str(script), url],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    line = next(li for li in out.splitlines() if li.startswith("RESULT "))
    requests, micros, p50, p99, errors = line.split()[1:]
    return {
        "rps": int(requests) / (int(micros) / 1e6),
        "p50": float(p50) / 1000,
        "p99": float(p99) / 1000,
        "errors": int(errors),
    }


def run_async(url: str, payload: bytes, connections: int, duration: float) -> dict[str, float]:
    latencies: list[float] = []
    errors = 0

    async def worker(client: httpx.AsyncClient, stop: float) -> None:
        nonlocal errors
        while time.perf_counter() < stop:
            t = time.perf_counter()
            r = await client.post(
                url, content=payload, headers={"content-type": "application/json"}
            )
            latencies.append((time.perf_counter() - t) * 1000)
            errors += r.status_code != 200

    async def main() -> float:
        limits = httpx.Limits(max_connections=connections)
        async with httpx.AsyncClient(limits=limits, timeout=30) as client:
            start = time.perf_counter()
            stop = start + duration
            await asyncio.gather(*(worker(client, stop) for _ in range(connections)))
            return time.perf_counter() - start

    elapsed = asyncio.run(main())
    latencies.sort()
    return {
        "rps": len(latencies) / elapsed,
        "p50": latencies[len(latencies) // 2],
        "p99": latencies[int(len(latencies) * 0.99)],
        "errors": errors,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model-dir", type=Path, help="a model folder (default: train one)")
    parser.add_argument("--workers", type=int, default=1, help="worker processes of each")
    parser.add_argument("--duration", type=float, default=10, help="seconds per measurement")
    parser.add_argument("--connections", type=int, default=8, help="concurrent connections")
    parser.add_argument("--rounds", type=int, default=2, help="alternating rounds per batch")
    parser.add_argument(
        "--mlserver-venv", type=Path, default=Path(tempfile.gettempdir()) / "mlserver-bench-venv"
    )
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="serve-bench-"))
    model_dir = args.model_dir or train_example(work)
    mlserver = mlserver_venv(args.mlserver_venv)
    ours_port, theirs_port = free_port(), free_port()
    export_for_mlserver(model_dir, work / "mlserver", theirs_port, args.workers)
    env = {**os.environ, "MLOPS_SERVE_TOKEN": ""}
    procs = {
        "mlops serve": subprocess.Popen(
            [
                sys.executable,
                "-m",
                "runner",
                "serve",
                "--model-dir",
                str(model_dir),
                "--model",
                MODEL,
                "--port",
                str(ours_port),
                "--workers",
                str(args.workers),
            ],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        ),
        "MLServer": subprocess.Popen(
            [str(mlserver), "start", str(work / "mlserver")],
            cwd=work / "mlserver",
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        ),
    }
    urls = {
        "mlops serve": f"http://127.0.0.1:{ours_port}",
        "MLServer": f"http://127.0.0.1:{theirs_port}",
    }
    load = "wrk" if shutil.which("wrk") else "asyncio client"
    try:
        for name, proc in procs.items():
            wait_ready(urls[name], proc, name)
        print(
            f"workers: {args.workers}, connections: {args.connections}, "
            f"{args.duration:g} s x {args.rounds} rounds per batch, load: {load}"
        )
        print(f"{'batch':>5}  {'server':<12} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8}  errors")
        for batch in (1, 100):
            payload = work / f"body-{batch}.json"
            payload.write_text(json.dumps(body(batch)))
            answers = {
                name: httpx.post(
                    f"{url}/v2/models/{MODEL}/infer", content=payload.read_bytes()
                ).json()["outputs"][0]["data"]
                for name, url in urls.items()
            }
            assert answers["mlops serve"] == answers["MLServer"], answers
            results: dict[str, list[dict[str, float]]] = {name: [] for name in urls}
            for _ in range(args.rounds):
                for name, url in urls.items():
                    target = f"{url}/v2/models/{MODEL}/infer"
                    if load == "wrk":
                        results[name].append(
                            run_wrk(target, payload, args.connections, args.duration)
                        )
                    else:
                        results[name].append(
                            run_async(target, payload.read_bytes(), args.connections, args.duration)
                        )
            summary = {
                name: {k: statistics.median(r[k] for r in runs) for k in runs[0]}
                for name, runs in results.items()
            }
            for name, s in summary.items():
                print(
                    f"{batch:>5}  {name:<12} {s['rps']:>8.0f} {s['p50']:>8.2f} "
                    f"{s['p99']:>8.2f}  {int(s['errors'])}"
                )
            ours, theirs = summary["mlops serve"], summary["MLServer"]
            print(
                f"{batch:>5}  {'ratio':<12} {ours['rps'] / theirs['rps']:>7.2f}x "
                f"{ours['p50'] / theirs['p50']:>7.2f}x {ours['p99'] / theirs['p99']:>7.2f}x"
            )
    finally:
        for proc in procs.values():
            proc.terminate()
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
