"""End to end: `mlops serve` as a real process against a deployed copy of the example.

One server per module, with two worker processes (the trained template, v0.1.0
registered and deployed to staging's folder). The tests send V2 requests with httpx and
compare the answers with the model loaded directly; then two more versions are deployed
while a client loops, and the prediction log must hold every answered request.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pandas as pd
import pytest

import runner
from runner.ml.model_io import load_model
from s3server import unused_port

from conftest import Sh, copy_template, git_commit

pytestmark = pytest.mark.slow

MODEL = "iris-classifier"
FEATURES = ["sepal_length_cm", "sepal_width_cm", "petal_length_cm", "petal_width_cm"]


@dataclass
class Served:
    root: Path
    url: str
    proc: subprocess.Popen[bytes]
    sh: Sh
    log: Path
    answered: set[str] = field(default_factory=set)  # request ids the server answered


def _wait_ready(url: str, proc: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"mlops serve exited {proc.returncode}:\n{log.read_text()}")
        try:
            if httpx.get(f"{url}/v2/health/ready", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise AssertionError(f"mlops serve did not get ready:\n{log.read_text()}")


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory, trained_template: Path) -> Iterator[Served]:
    sh = Sh(tmp_path_factory.mktemp("home"))
    root = copy_template(trained_template, tmp_path_factory.mktemp("serve") / "demo")
    config = root / "mlops.yaml"
    text = config.read_text()
    line = "    target: {kind: directory, path: .mlops/deploy/staging}\n"
    assert line in text
    config.write_text(text.replace(line, line + "    serve: {poll_seconds: 0.1}\n"))
    git_commit(sh, root, "serve staging, polling the pointer often")
    sh("mlops", "register", "iris", cwd=root)
    sh("mlops", "deploy", "--env", "staging", cwd=root)
    port = unused_port()
    url = f"http://127.0.0.1:{port}"
    log = root.parent / "serve.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [
                *(sys.executable, "-m", "runner", "serve", "--env", "staging"),
                *("--port", str(port), "--workers", "2"),
            ],
            cwd=root,
            env=sh.env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        _wait_ready(url, proc, log)
        yield Served(root, url, proc, sh, log)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def _infer(served: Served, body: dict[str, Any], path: str = "") -> httpx.Response:
    url = f"{served.url}/v2/models/{MODEL}{path}/infer"
    response = httpx.post(url, json=body, timeout=30)
    if response.status_code == 200:
        served.answered.add(response.json()["id"])
    return response


def _rows(root: Path) -> pd.DataFrame:
    return pd.read_parquet(root / "outputs/iris/split/test.parquet")[FEATURES]


def test_metadata_and_health(served: Served) -> None:
    assert httpx.get(f"{served.url}/v2/health/live").json() == {"live": True}
    assert httpx.get(f"{served.url}/v2").json()["name"] == "mlops-runner"
    meta = httpx.get(f"{served.url}/v2/models/{MODEL}").json()
    assert meta["name"] == MODEL and meta["versions"] == ["v0.1.0"]
    assert [i["name"] for i in meta["inputs"]] == FEATURES
    ready = httpx.get(f"{served.url}/v2/models/{MODEL}/versions/v0.1.0/ready")
    assert ready.json() == {"name": MODEL, "ready": True}
    missing = httpx.get(f"{served.url}/v2/models/other")
    assert missing.status_code == 404
    assert missing.json() == {"error": f"unknown model 'other' (this server serves '{MODEL}')"}


def test_columnar_and_2d_requests_match_the_model(served: Served) -> None:
    rows = _rows(served.root)
    direct = load_model(served.root / "outputs/iris/train/model")
    expected = direct.predict(rows).tolist()
    proba = direct.predict_proba(rows)
    columnar = {
        "id": "columnar-1",
        "inputs": [
            {"name": c, "shape": [len(rows)], "datatype": "FP64", "data": rows[c].tolist()}
            for c in FEATURES
        ],
        "outputs": [{"name": "predict"}, {"name": "predict_proba"}],
    }
    answer = _infer(served, columnar)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert (body["model_name"], body["model_version"], body["id"]) == (
        MODEL,
        "v0.1.0",
        "columnar-1",
    )
    predict, probabilities = body["outputs"]
    assert predict == {
        "name": "predict",
        "shape": [len(rows)],
        "datatype": "BYTES",
        "data": expected,
    }
    assert probabilities["shape"] == [len(rows), 3]
    assert probabilities["data"] == pytest.approx(proba.ravel().tolist())
    matrix = {
        "inputs": [
            {
                "name": "input-0",
                "shape": [len(rows), 4],
                "datatype": "FP32",
                "data": rows.to_numpy().tolist(),
            }
        ]
    }
    answer = _infer(served, matrix, "/versions/v0.1.0")
    assert answer.status_code == 200, answer.text
    assert answer.json()["outputs"][0]["data"] == expected


def _column(name: str, data: list[Any], datatype: str = "FP64") -> dict[str, Any]:
    return {"name": name, "shape": [len(data)], "datatype": datatype, "data": data}


def _good(**change: list[Any]) -> list[dict[str, Any]]:
    return [_column(c, change.get(c, [5.0])) for c in FEATURES]


# Every bad request of the issue, through the real server: 400, `{"error": ...}`, the column.
BAD_REQUESTS: list[tuple[str, Any, str]] = [
    ("missing feature", {"inputs": _good()[:3]}, "missing input 'petal_width_cm'"),
    ("unknown feature", {"inputs": [*_good(), _column("colour", [1.0])]}, "unknown input 'colour'"),
    (
        "wrong datatype",
        {"inputs": [_column("sepal_length_cm", ["5"], "BYTES"), *_good()[1:]]},
        "input 'sepal_length_cm': datatype BYTES",
    ),
    (
        "wrong shape",
        {"inputs": [{**_column("sepal_length_cm", [5.0]), "shape": [2]}, *_good()[1:]]},
        "input 'sepal_length_cm': shape [2] does not match its 1 values",
    ),
    (
        "2-D input of the wrong width",
        {"inputs": [{"name": "x", "shape": [1, 3], "datatype": "FP64", "data": [1, 2, 3]}]},
        "input 'x': shape [1, 3] must be [rows, 4] for one 2-D input (columns sepal_length_cm",
    ),
    (
        "string for a number",
        {"inputs": _good(petal_length_cm=["long"])},
        "input 'petal_length_cm': value 'long' at index 0 is not a number",
    ),
    (
        "NaN",
        {"inputs": _good(petal_width_cm=[None])},
        "input 'petal_width_cm': missing value (null or NaN) at index 0",
    ),
    ("empty batch", {"inputs": [_column(c, []) for c in FEATURES]}, "empty batch"),
    ("malformed JSON", b'{"inputs": [{"name": "sepal_length_cm",', "malformed JSON"),
]


@pytest.mark.parametrize(
    ("case", "body", "message"), BAD_REQUESTS, ids=[c[0] for c in BAD_REQUESTS]
)
def test_bad_requests_get_400_naming_the_column(
    served: Served, case: str, body: Any, message: str
) -> None:
    url = f"{served.url}/v2/models/{MODEL}/infer"
    if isinstance(body, bytes):
        response = httpx.post(url, content=body, timeout=30)
    else:
        response = httpx.post(url, json=body, timeout=30)
    assert response.status_code == 400, response.text
    assert set(response.json()) == {"error"}
    assert message in response.json()["error"]
    assert "Traceback" not in served.log.read_text()


def _predict(
    served: Served, source: Path, out: Path, *, check: bool = True
) -> subprocess.CompletedProcess[str]:
    return served.sh(
        "mlops",
        "predict",
        "--env",
        "staging",
        "--input",
        str(source),
        "--output",
        str(out),
        cwd=served.root,
        check=check,
    )


def test_predict_and_load_model_give_the_served_answers(served: Served, tmp_path: Path) -> None:
    rows = _rows(served.root)
    source = tmp_path / "rows.csv"
    rows.to_csv(source, index=False)
    out = tmp_path / "scored.parquet"
    result = _predict(served, source, out)
    assert result.stdout == f"predicted {len(rows)} rows with {MODEL} v0.1.0 -> {out}\n"
    model = runner.load_model("staging", project=served.root)
    assert model.version == "v0.1.0"
    expected = model.predict(rows).tolist()
    assert pd.read_parquet(out)["prediction"].tolist() == expected
    registered = runner.load_model(model=MODEL, version="v0.1.0", project=served.root)
    assert (registered.version, registered.digest) == ("v0.1.0", model.digest)
    assert registered.predict(rows).tolist() == expected
    rows.drop(columns=["sepal_width_cm"]).to_csv(source, index=False)
    bad = _predict(served, source, out, check=False)
    assert bad.returncode == 1
    assert bad.stderr.startswith(f"error: {source}: missing column 'sepal_width_cm'")


def test_deploys_while_serving_fail_no_request(served: Served) -> None:
    """Two more versions go out while a client loops: no request fails, and each answer
    names a version that was deployed; a tampered version is refused."""
    body = {"inputs": _good()}
    failures: list[str] = []
    versions: list[str] = []
    stop = threading.Event()

    def loop() -> None:
        # A new connection per request, so that both worker processes answer.
        limits = httpx.Limits(max_keepalive_connections=0)
        with httpx.Client(timeout=30, limits=limits) as client:
            while not stop.is_set():
                try:
                    r = client.post(f"{served.url}/v2/models/{MODEL}/infer", json=body)
                except httpx.HTTPError as exc:
                    failures.append(repr(exc))
                    continue
                if r.status_code != 200:
                    failures.append(r.text)
                    continue
                versions.append(r.json()["model_version"])
                served.answered.add(r.json()["id"])

    client = threading.Thread(target=loop)
    client.start()
    try:
        for _ in range(2):
            served.sh("git", "commit", "--quiet", "--allow-empty", "-m", "again", cwd=served.root)
            served.sh("mlops", "register", "iris", cwd=served.root)
            served.sh("mlops", "deploy", "--env", "staging", cwd=served.root)
        _wait_all_serve(served, "v0.1.2")
        _tamper_and_check_refused(served)
        time.sleep(0.3)
    finally:
        stop.set()
        client.join()
    assert failures == []
    assert versions[0] == "v0.1.0" and versions[-1] == "v0.1.2"
    assert set(versions) <= {"v0.1.0", "v0.1.1", "v0.1.2"}


def _served_version(served: Served) -> str:
    """The version one worker (a fresh connection) answers with."""
    meta = httpx.get(f"{served.url}/v2/models/{MODEL}", timeout=30).json()
    return str(meta["versions"][0])


def _wait_all_serve(served: Served, version: str) -> None:
    """Until 20 fresh connections in a row report `version` (each worker swaps on its own)."""
    deadline = time.monotonic() + 60
    streak = 0
    while streak < 20:
        assert time.monotonic() < deadline, f"not every worker serves {version}"
        streak = streak + 1 if _served_version(served) == version else 0
        if not streak:
            time.sleep(0.05)


def _tamper_and_check_refused(served: Served) -> None:
    """Point staging at a copy of v0.1.2 whose meta.json was altered: refused, v0.1.2 serves."""
    folder = served.root / ".mlops/deploy/staging" / MODEL
    good = (folder / "current.json").read_text()
    bad = folder / "versions/v9.9.9"
    shutil.copytree(folder / "versions/v0.1.2", bad)
    (bad / "meta.json").write_text((bad / "meta.json").read_text() + " ")
    pointer = json.loads(good) | {"version": "v9.9.9"}
    (folder / "current.json").write_text(json.dumps(pointer))
    deadline = time.monotonic() + 30
    while served.log.read_text().count("refused iris-classifier v9.9.9") < 2:  # both workers
        assert time.monotonic() < deadline, served.log.read_text()
        time.sleep(0.05)
    assert {_served_version(served) for _ in range(10)} == {"v0.1.2"}
    (folder / "current.json").write_text(good)


def test_metrics_then_shutdown_leaves_every_answer_in_the_log(served: Served) -> None:
    metrics = httpx.get(f"{served.url}/metrics").text
    assert 'mlops_serve_model_info{model="iris-classifier",version="v0.1.2"} 1.0' in metrics
    assert "mlops_serve_load_failures 1.0" in metrics
    assert "mlops_serve_prediction_log_dropped 0.0" in metrics
    served.proc.send_signal(signal.SIGTERM)
    assert served.proc.wait(timeout=60) == 0
    assert "(workers: 2" in served.log.read_text()
    logged = pd.read_parquet(served.root / ".mlops/predictions/staging")
    assert served.answered
    assert served.answered <= set(logged["request_id"])
    assert set(logged["version"]) <= {"v0.1.0", "v0.1.1", "v0.1.2"}
    first = logged[logged["request_id"] == "columnar-1"].sort_values("row")
    assert json.loads(first["inputs"].iloc[0]).keys() == set(FEATURES)
    assert "predict" in json.loads(first["outputs"].iloc[0])


def test_limits_token_and_routes_in_process(
    served: Served, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The same app in this process (httpx's ASGI transport): body and batch limits, the
    bearer token, and JSON errors for unknown routes and methods."""
    from runner.serve.app import Server
    from runner.serve.settings import TOKEN_VAR, ServeSettings

    monkeypatch.setenv(TOKEN_VAR, "s3cret")
    settings = ServeSettings(
        model=MODEL,
        target=None,
        model_dir=str(served.root / "outputs/iris/train/model"),
        max_batch=2,
        max_body_bytes=2000,
    )
    server = Server(settings)
    server.holder.load_initial()
    auth = {"Authorization": "Bearer s3cret"}
    infer = f"/v2/models/{MODEL}/infer"
    three = {"inputs": [_column(c, [5.0, 5.0, 5.0]) for c in FEATURES]}

    async def session() -> dict[str, httpx.Response]:
        transport = httpx.ASGITransport(app=server.app())
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            return {
                "ready": await client.get("/v2/health/ready"),
                "no token": await client.post(infer, json={"inputs": _good()}),
                "ok": await client.post(infer, json={"inputs": _good()}, headers=auth),
                "over": await client.post(infer, json=three, headers=auth),
                "big": await client.post(infer, content=b" " * 3000, headers=auth),
                "route": await client.get("/v1/models", headers=auth),
                "method": await client.get(infer, headers=auth),
                "version": await client.get(f"/v2/models/{MODEL}/versions/v9/ready", headers=auth),
            }

    got = asyncio.run(session())
    assert got["ready"].status_code == 200  # probes need no token
    assert (got["no token"].status_code, got["no token"].json()) == (
        401,
        {"error": "missing or wrong bearer token"},
    )
    assert got["ok"].status_code == 200 and got["ok"].json()["model_version"] == "local"
    assert (got["over"].status_code, got["over"].json()) == (
        400,
        {"error": "batch of 3 rows is over the limit of 2"},
    )
    assert (got["big"].status_code, got["big"].json()) == (
        413,
        {"error": "request body over the limit of 2000 bytes"},
    )
    assert (got["route"].status_code, got["route"].json()) == (
        404,
        {"error": "no route /v1/models"},
    )
    assert got["method"].status_code == 405
    assert got["version"].json() == {
        "error": f"version 'v9' of '{MODEL}' is not served (serving local)"
    }


def test_serving_from_an_s3_target_follows_its_pointer(
    served: Served, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What the Kubernetes pods do (`--target-url s3://...`): load the pointer's version from
    a real (moto) S3 server, digest checked, and swap when the pointer moves."""
    from runner.config.targets import S3TargetConfig
    from runner.deploy.targets import open_target
    from runner.deploy.targets.base import Pointer
    from runner.fsutil import manifest, manifest_digest
    from runner.serve.holder import ModelHolder
    from runner.serve.settings import ServeSettings
    from s3server import CREDENTIALS, moto_server

    for name, value in CREDENTIALS.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    import boto3

    versions = served.root / ".mlops/deploy/staging" / MODEL / "versions"
    with moto_server() as endpoint:
        boto3.client("s3", endpoint_url=endpoint).create_bucket(Bucket="models")
        config = S3TargetConfig(kind="s3", url="s3://models/iris", endpoint_url=endpoint)
        target = open_target(config, served.root)
        previous = None
        pointers = []
        for version in ("v0.1.0", "v0.1.1"):
            files = manifest(versions / version)
            target.upload(MODEL, version, versions / version, files)
            pointers.append(Pointer(model=MODEL, version=version, digest=manifest_digest(files)))
        target.switch(MODEL, previous, pointers[0])
        holder = ModelHolder(ServeSettings(model=MODEL, target=config))
        assert holder.load_initial().version == "v0.1.0"
        assert holder.check_once() is False  # the pointer did not move
        target.switch(MODEL, pointers[0], pointers[1])
        assert holder.check_once() is True
        assert holder.model is not None and holder.model.version == "v0.1.1"
        rows = _rows(served.root)
        direct = load_model(served.root / "outputs/iris/train/model")
        assert holder.model.predict(rows).tolist() == direct.predict(rows).tolist()
