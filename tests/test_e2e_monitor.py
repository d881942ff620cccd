"""End to end: train, register, deploy, serve, send traffic, `mlops monitor` on the log.

One server (a real `mlops serve` process on 127.0.0.1) answers the example's rows,
first as they are, then with one column shifted; the prediction log it writes is
what `mlops monitor iris --env staging` reads. The HTML report of the drifted run is
opened in headless Chromium and the screenshot must show the distributions.
"""

from __future__ import annotations

import json
import shutil
import signal
import struct
import subprocess
import sys
import time
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pandas as pd
import pytest

from s3server import unused_port

from conftest import Sh, copy_template, git_commit

pytestmark = pytest.mark.slow

MODEL = "iris-classifier"
SHIFTED = "sepal_width_cm"
MONITOR = """
monitor:
  drift_share: 0.25
  performance:
    rules:
      - {metric: accuracy, min: 0.9, max_drop: 0.1}
"""


@dataclass
class Served:
    root: Path
    url: str
    sh: Sh
    log: Path


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory, trained_template: Path) -> Iterator[Served]:
    sh = Sh(tmp_path_factory.mktemp("home"))
    root = copy_template(trained_template, tmp_path_factory.mktemp("monitor") / "demo")
    config = root / "mlops.yaml"
    line = "    target: {kind: directory, path: .mlops/deploy/staging}\n"
    roll = "    serve: {predictions: {roll_seconds: 0.2}}\n"  # log files close quickly
    config.write_text(config.read_text().replace(line, line + roll))
    pipeline = root / "pipelines/iris.yaml"
    pipeline.write_text(pipeline.read_text() + MONITOR)
    sh("mlops", "compile", cwd=root)
    git_commit(sh, root, "monitor staging")
    sh("mlops", "register", "iris", cwd=root)
    sh("mlops", "deploy", "--env", "staging", cwd=root)
    port = unused_port()
    out = (root.parent / "serve.log").open("wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "runner", "serve", "--env", "staging", "--port", str(port)],
        cwd=root,
        env=sh.env,
        stdout=out,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while not _ready(url):
            assert proc.poll() is None and time.monotonic() < deadline, "mlops serve did not start"
            time.sleep(0.1)
        yield Served(root, url, sh, root / ".mlops/predictions/staging")
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(30)
        out.close()


def _ready(url: str) -> bool:
    try:
        return httpx.get(f"{url}/v2/health/ready", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


def _send(served: Served, frame: pd.DataFrame) -> None:
    """Answer `frame`'s rows, then wait until the log holds them in closed files."""
    before = len(list(served.log.glob("*.parquet")))
    body = {
        "inputs": [
            {"name": c, "shape": [len(frame)], "datatype": "FP64", "data": frame[c].tolist()}
            for c in frame.columns
        ]
    }
    response = httpx.post(f"{served.url}/v2/models/{MODEL}/infer", json=body, timeout=30)
    assert response.status_code == 200, response.text
    deadline = time.monotonic() + 30
    while len(list(served.log.glob("*.parquet"))) == before or list(served.log.glob(".*.tmp")):
        assert time.monotonic() < deadline, "the prediction log was not written"
        time.sleep(0.1)


def _rows(root: Path) -> pd.DataFrame:
    frame = pd.read_parquet(root / "outputs/iris/ingest/data.parquet")
    return frame.drop(columns=["species"])


def _archive(served: Served, name: str) -> None:
    """Move the log's files aside, so the next round is checked on its own."""
    dest = served.root.parent / name
    dest.mkdir()
    for path in served.log.glob("*.parquet"):
        shutil.move(path, dest / path.name)


def _monitor(served: Served, *args: str) -> subprocess.CompletedProcess[str]:
    return served.sh(
        "mlops", "monitor", "iris", "--env", "staging", *args, cwd=served.root, check=False
    )


def test_unshifted_traffic_passes_and_shifted_traffic_names_the_column(served: Served) -> None:
    _send(served, _rows(served.root))
    ok = _monitor(served, "--format", "json", "--record")
    assert ok.returncode == 0, ok.stdout + ok.stderr
    result = json.loads(ok.stdout)
    assert result["verdict"] == "ok" and result["rows"] == 150
    assert {c["name"]: c["status"] for c in result["columns"]} == {
        "sepal_length_cm": "ok",
        "sepal_width_cm": "ok",
        "petal_length_cm": "ok",
        "petal_width_cm": "ok",
        "prediction": "ok",
    }
    _archive(served, "round-1")

    shifted = _rows(served.root)
    shifted[SHIFTED] = shifted[SHIFTED] + 1.5 * shifted[SHIFTED].std()
    _send(served, shifted)
    html = served.root.parent / "report.html"
    drift = _monitor(served, "--record", "--html", str(html))
    assert drift.returncode == 1, drift.stdout + drift.stderr
    first = drift.stderr.splitlines()[0]
    assert first == (
        "error: monitor iris on staging: drift: 1 of 4 columns drifted: sepal_width_cm"
    ), drift.stderr
    table = {line.split()[0]: line.split()[2] for line in drift.stdout.splitlines()[2:7]}
    assert table[SHIFTED] == "drift"
    assert [table[c] for c in ("sepal_length_cm", "petal_length_cm", "petal_width_cm")] == [
        "ok",
        "ok",
        "ok",
    ]

    markdown = _monitor(served, "--format", "markdown")
    lines = markdown.stdout.splitlines()
    assert lines[0] == "<!-- mlops-monitor:iris-classifier:staging -->"
    assert lines[1] == "## 🔴 `iris-classifier` v0.1.0 on `staging`: drift"
    assert any(line.startswith(f"| `{SHIFTED}` | numeric | **drift** | ks p=") for line in lines)

    history = served.sh("mlops", "history", "--format", "json", cwd=served.root)
    checks = [e for e in json.loads(history.stdout)["events"] if e["kind"] == "monitored"]
    assert [(e["env"], e["version"], e["detail"].split(":")[0]) for e in checks] == [
        ("staging", "v0.1.0", "ok"),
        ("staging", "v0.1.0", "drift"),
    ]
    _screenshot_shows_the_plots(html)


def test_labels_in_a_file_check_performance(served: Served, tmp_path: Path) -> None:
    frame = pd.read_parquet(served.root / "outputs/iris/ingest/data.parquet")
    good = tmp_path / "labelled.csv"
    frame.to_csv(good, index=False)
    ok = _monitor(served, "--data", str(good), "--format", "json")
    assert ok.returncode == 0, ok.stdout + ok.stderr
    perf = json.loads(ok.stdout)["performance"]
    assert perf["passed"] and perf["metrics"]["accuracy"] > 0.9
    # Labels that no longer match the inputs: the model's accuracy collapses.
    wrong = frame.assign(species=frame["species"].sample(frac=1, random_state=3).to_numpy())
    bad = tmp_path / "wrong.parquet"
    wrong.to_parquet(bad)
    degraded = _monitor(served, "--data", str(bad))
    assert degraded.returncode == 1
    assert degraded.stderr.splitlines()[0].startswith(
        "error: monitor iris on staging: degraded: performance: accuracy min 0.9: "
    ), degraded.stderr


def _screenshot_shows_the_plots(html: Path) -> None:
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        pytest.skip("chromium is not installed (.ci/run installs it)")
    png = html.with_suffix(".png")
    proc = subprocess.run(
        [
            chromium,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--hide-scrollbars",
            "--window-size=1400,1200",
            f"--screenshot={png}",
            html.as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert png.is_file(), proc.stderr
    pixels = _decode_png(png.read_bytes())
    # The bars of both distributions are drawn: the training and the current colour.
    assert pixels.count((0x09, 0x69, 0xDA)) > 2000
    assert pixels.count((0xBF, 0x39, 0x89)) > 2000
    assert len(set(pixels)) > 20  # not a blank page


def _decode_png(data: bytes) -> list[tuple[int, int, int]]:
    """The RGB pixels of an 8-bit, non-interlaced RGB or RGBA PNG (what Chromium writes)."""
    import numpy as np

    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat = 8, b""
    width = height = channels = 0
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind, body = data[pos + 4 : pos + 8], data[pos + 8 : pos + 8 + length]
        if kind == b"IHDR":
            width, height, depth, colour = struct.unpack(">IIBB", body[:10])
            assert depth == 8 and colour in (2, 6)
            channels = 3 if colour == 2 else 4
        elif kind == b"IDAT":
            idat += body
        pos += 12 + length
    raw = np.frombuffer(zlib.decompress(idat), dtype=np.uint8).reshape(height, -1)
    image = np.zeros((height, width * channels), dtype=np.uint8)
    previous = np.zeros(width * channels, dtype=np.uint8)
    for y in range(height):
        kind, line = raw[y, 0], raw[y, 1:].astype(np.int64)
        if kind == 1:  # Sub: a running sum per channel
            line = line.reshape(width, channels).cumsum(axis=0).reshape(-1)
        elif kind == 2:  # Up
            line = line + previous
        elif kind in (3, 4):  # Average, Paeth: byte by byte
            up = previous.astype(np.int64)
            for i in range(len(line)):
                a = int(line[i - channels]) if i >= channels else 0
                b = int(up[i])
                if kind == 3:
                    line[i] = (line[i] + (a + b) // 2) & 0xFF
                    continue
                c = int(up[i - channels]) if i >= channels else 0
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 0xFF
        image[y] = (line & 0xFF).astype(np.uint8)
        previous = image[y]
    rgb = image.reshape(height, width, channels)[:, :, :3].reshape(-1, 3)
    return [tuple(p) for p in rgb.tolist()]  # type: ignore[misc]


def test_bad_input_exits_2_with_one_line(served: Served, tmp_path: Path) -> None:
    missing = _monitor(served, "--data", str(tmp_path / "nosuch.csv"))
    assert (missing.returncode, missing.stderr.splitlines()[0]) == (
        2,
        f"error: {tmp_path / 'nosuch.csv'}: no such file or folder",
    )
    both = _monitor(served, "--data", "x.csv", "--since", "1h")
    assert (both.returncode, both.stderr.splitlines()[0]) == (
        2,
        "error: --since applies to the prediction log, not to --data",
    )
    data = tmp_path / "rows.csv"
    _rows(served.root).to_csv(data, index=False)
    pipeline = served.root / "pipelines/iris.yaml"
    text = pipeline.read_text()
    try:
        pipeline.write_text(text + "  columns: {colour: {key: true}}\n")
        unknown = _monitor(served, "--data", str(data))
        line = len(text.splitlines()) + 1
        assert (unknown.returncode, unknown.stderr.splitlines()[0]) == (
            2,
            f"pipelines/iris.yaml:{line}:13: error: monitor.columns: no column named 'colour' "
            "in the model or the data",
        )
        pipeline.write_text(text + "  columns: {sepal_width_cm: {test: chi2}}\n")
        mismatch = _monitor(served, "--data", str(data))
        assert (mismatch.returncode, mismatch.stderr.splitlines()[0]) == (
            2,
            f"pipelines/iris.yaml:{line}:36: error: monitor.columns.sepal_width_cm.test: "
            "chi2 needs a categorical column, 'sepal_width_cm' is numeric",
        )
    finally:
        pipeline.write_text(text)
    assert "Traceback" not in unknown.stderr + mismatch.stderr


def test_a_version_without_reference_statistics_gets_a_clear_message(
    served: Served, tmp_path: Path
) -> None:
    from runner.deploy.targets import open_target
    from runner.deploy.targets.base import Pointer
    from runner.fsutil import manifest, manifest_digest
    from runner.project.workspace import open_workspace

    ws = open_workspace(served.root)
    target = open_target(ws.project.environments["staging"].target, served.root)
    old = tmp_path / "old"
    shutil.copytree(served.root / "outputs/iris/train/model", old)
    (old / "reference.json").unlink()  # as every version trained before monitoring had it
    files = manifest(old)
    target.upload(MODEL, "v0.0.9", old, files)
    current = target.current(MODEL)
    assert current is not None
    pointer = Pointer(model=MODEL, version="v0.0.9", digest=manifest_digest(files))
    target.switch(MODEL, current, pointer)
    try:
        proc = _monitor(served, "--data", str(tmp_path / "any.csv"))
    finally:
        target.switch(MODEL, pointer, current)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert proc.stderr.splitlines()[0] == (
        "error: staging runs iris-classifier v0.0.9, which has no reference statistics "
        "(reference.json): it was trained before mlops-runner kept them"
    )
