"""End to end: what a target serves is checked byte for byte by `deploy` and `status`.

A byte flipped in a served model (on S3 with its `sha256` metadata kept), and a
version's objects written first by an attacker with the expected metadata: deploy
never reports "nothing to do" or switches to them, and status says "tampered".
"""

from __future__ import annotations

import hashlib
import json
import re
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from s3server import BUCKET, s3_client

from conftest import Sh, copy_template

pytestmark = pytest.mark.slow

MODEL = "iris-classifier"


@pytest.fixture(scope="module")
def repo(tmp_path_factory: pytest.TempPathFactory, sh: Sh, trained_template: Path) -> Path:
    """The trained example (a copy of the session's template) with v0.1.0 registered."""
    root = copy_template(trained_template, tmp_path_factory.mktemp("tamper") / "demo")
    sh("mlops", "register", "iris", cwd=root)
    return root


def configure(root: Path, endpoint: str) -> tuple[Path, str]:
    """Fresh targets: staging a folder, production an S3 prefix; both want v0.1.0.
    Returns the staging model folder and the production model prefix."""
    staging = f".mlops/deploy/{uuid.uuid4().hex[:8]}"
    prefix = f"iris-{uuid.uuid4().hex[:6]}"
    s3 = f"{{kind: s3, url: 's3://{BUCKET}/{prefix}', endpoint_url: '{endpoint}'}}"
    text = (root / "mlops.yaml").read_text()
    text = re.sub(
        r"(  staging:\n    target: ).*\n", rf"\g<1>{{kind: directory, path: {staging}}}\n", text
    )
    text = re.sub(r"(    approval: true.*\n    target: ).*\n", rf"\g<1>{s3}\n", text)
    (root / "mlops.yaml").write_text(text)
    (root / "deployments.yaml").write_text(
        f"staging:\n  {MODEL}: v0.1.0\nproduction:\n  {MODEL}: v0.1.0\n"
    )
    return root / staging / MODEL, f"{prefix}/{MODEL}"


def status(sh: Sh, repo: Path, *args: str) -> tuple[int, dict[str, str], str]:
    result = sh("mlops", "status", "--format", "json", *args, cwd=repo, check=False)
    states = {row["env"]: row["state"] for row in json.loads(result.stdout)}
    return result.returncode, states, result.stderr


def flip_s3_object(client: Any, key: str) -> None:
    """Flip the first byte of `key`, keeping its metadata (the `sha256` the deploy wrote)."""
    got = client.get_object(Bucket=BUCKET, Key=key)
    body = got["Body"].read()
    client.put_object(
        Bucket=BUCKET, Key=key, Body=bytes([body[0] ^ 1]) + body[1:], Metadata=got["Metadata"]
    )


def test_status_and_deploy_see_a_flipped_byte(repo: Path, sh: Sh, s3_endpoint: str) -> None:
    staging, prefix = configure(repo, s3_endpoint)
    sh("mlops", "deploy", cwd=repo)
    assert status(sh, repo) == (0, {"staging": "ok", "production": "ok"}, "")

    served = [p for p in (staging / "versions" / "v0.1.0").rglob("*") if p.is_file()]
    data = served[0].read_bytes()
    served[0].write_bytes(bytes([data[0] ^ 1]) + data[1:])
    client = s3_client(s3_endpoint)
    listed = client.list_objects_v2(Bucket=BUCKET, Prefix=f"{prefix}/versions/v0.1.0/")
    keys = [o["Key"] for o in listed["Contents"]]
    flip_s3_object(client, keys[0])

    code, states, stderr = status(sh, repo)
    assert (code, states) == (1, {"staging": "tampered", "production": "tampered"})
    assert stderr.startswith(
        f"error: 2 tampered: staging/{MODEL} serves v0.1.0, tampered: served files hash to "
    )
    code, states, stderr = status(sh, repo, "--quick")
    assert (code, states) == (0, {"staging": "ok", "production": "ok"})
    assert stderr == "note: --quick: the served files were not hashed, only pointers read\n"

    table = sh("mlops", "status", cwd=repo, check=False)
    assert table.returncode == 1
    assert [line.split()[-1] for line in table.stdout.splitlines()[1:]] == ["tampered"] * 2

    result = sh("mlops", "deploy", "--env", "production", cwd=repo, check=False)
    assert result.returncode == 1, result.stdout  # no longer "nothing to do"
    assert "already stored with different files" in result.stderr


def test_deploy_never_switches_to_forged_objects(repo: Path, sh: Sh, s3_endpoint: str) -> None:
    """Objects written first under the version's keys with the expected `sha256`
    metadata but other bytes: deploy refuses, and the pointer is never written."""
    staging, prefix = configure(repo, s3_endpoint)
    sh("mlops", "deploy", "--env", "staging", cwd=repo)  # only to learn the real files
    client = s3_client(s3_endpoint)
    version = staging / "versions" / "v0.1.0"
    for path in sorted(p for p in version.rglob("*") if p.is_file()):
        rel = path.relative_to(version).as_posix()
        sha = hashlib.sha256(path.read_bytes()).hexdigest()
        client.put_object(
            Bucket=BUCKET,
            Key=f"{prefix}/versions/v0.1.0/{rel}",
            Body=b"attacker's bytes",
            Metadata={"sha256": sha},
        )
    result = sh("mlops", "deploy", "--env", "production", cwd=repo, check=False)
    assert result.returncode == 1
    assert "already stored with different files" in result.stderr
    listed = client.list_objects_v2(Bucket=BUCKET, Prefix=f"{prefix}/")["Contents"]
    assert f"{prefix}/current.json" not in [o["Key"] for o in listed]


def forge(sh: Sh, root: Path, edit: Any) -> None:
    """Rewrite v0.1.0's tag message with `edit(record)` applied (same tag, same commit)."""
    tag = f"{MODEL}@v0.1.0"
    message = sh("git", "tag", "-l", "--format=%(contents)", tag, cwd=root).stdout
    summary, _, body = message.partition("\n\n")
    record = json.loads(body)
    edit(record)
    text = f"{summary}\n\n{json.dumps(record, indent=2, sort_keys=True)}\n"
    sh("git", "tag", "-f", "-a", tag, "-m", text, record["commit"], cwd=root)


def other_file(record: dict[str, Any], root: Path) -> None:
    """Point the artifact at another tracked output, with its hashes adjusted to match."""
    path = "outputs/iris/ingest/data.parquet"
    files = {"data.parquet": hashlib.sha256((root / path).read_bytes()).hexdigest()}
    lines = "".join(f"{rel}\0{sha}\n" for rel, sha in sorted(files.items()))
    record["artifact"] = {
        "path": path,
        "files": files,
        "digest": hashlib.sha256(lines.encode()).hexdigest(),
    }


@pytest.fixture
def forged(repo: Path, sh: Sh, tmp_path: Path) -> Iterator[Path]:
    """`repo` with v0.1.0's record edited by the test; the real tag restored after."""
    tag = f"{MODEL}@v0.1.0"
    message = sh("git", "tag", "-l", "--format=%(contents)", tag, cwd=repo).stdout
    commit = sh("git", "rev-list", "-n1", tag, cwd=repo).stdout.strip()
    yield repo
    sh("git", "tag", "-f", "-a", tag, "-m", message.rstrip("\n") + "\n", commit, cwd=repo)


def test_a_record_pointing_at_another_file_is_refused(
    forged: Path, sh: Sh, s3_endpoint: str
) -> None:
    """The artifact path of a record must be the model output dvc.yaml declares at the
    tagged commit: deploy shipped whatever file an edited record named."""
    staging, _ = configure(forged, s3_endpoint)
    forge(sh, forged, lambda record: other_file(record, forged))
    first = (
        f"error: {MODEL}@v0.1.0: its record ships outputs/iris/ingest/data.parquet of "
        "pipeline iris, but dvc.yaml at "
    )
    deploy = sh("mlops", "deploy", "--env", "staging", cwd=forged, check=False)
    assert deploy.returncode == 1
    assert deploy.stderr.startswith(f"staging: {MODEL}: FAILED: {first.removeprefix('error: ')}")
    assert "declares outputs/iris/train/model of pipeline iris\n" in deploy.stderr
    assert not (staging / "current.json").exists()

    promote = sh("mlops", "promote", MODEL, "--to", "staging", cwd=forged, check=False)
    assert promote.returncode == 1
    assert promote.stderr.startswith(first)
    reproduce = sh("mlops", "reproduce", f"{MODEL}@v0.1.0", cwd=forged, check=False)
    assert reproduce.returncode == 1
    assert reproduce.stderr.startswith(first)
    script = f"import runner; runner.load_model(model={MODEL!r}, version='v0.1.0')"
    loaded = sh(sys.executable, "-c", script, cwd=forged, check=False)
    assert loaded.returncode == 1
    assert f"CheckFailed: {first.removeprefix('error: ')}" in loaded.stderr
    code, states, stderr = status(sh, forged)
    assert (code, states["staging"]) == (1, "tampered")
    assert f"staging/{MODEL} serves (none), tampered: {first.removeprefix('error: ')}" in stderr


def test_a_record_with_other_stage_hashes_is_refused(
    forged: Path, sh: Sh, s3_endpoint: str
) -> None:
    configure(forged, s3_endpoint)

    def edit(record: dict[str, Any]) -> None:
        outs = record["stages"]["train"]["outs"]
        outs["outputs/iris/train/model"] = "0" * 32 + ".dir"

    forge(sh, forged, edit)
    deploy = sh("mlops", "deploy", "--env", "staging", cwd=forged, check=False)
    assert deploy.returncode == 1
    assert (
        f"{MODEL}@v0.1.0: its record's stage hashes differ from pipelines/iris/dvc.lock at "
        in deploy.stderr
    )
