"""End to end: deploy and status when a target fails, and an S3 lease left corrupt.

One trained and registered project per module; each test points the two
environments at fresh targets of its own, so every test passes alone.
"""

from __future__ import annotations

import json
import re
import uuid
from pathlib import Path

import pytest

from s3server import BUCKET, s3_client, unused_port

from conftest import Sh, copy_template

pytestmark = pytest.mark.slow

MODEL = "iris-classifier"


@pytest.fixture(scope="module")
def repo(tmp_path_factory: pytest.TempPathFactory, sh: Sh, trained_template: Path) -> Path:
    """The trained example (a copy of the session's template) with v0.1.0 registered."""
    root = copy_template(trained_template, tmp_path_factory.mktemp("deploy-errors") / "demo")
    sh("mlops", "register", "iris", cwd=root)
    return root


def configure(root: Path, production: str) -> str:
    """Point staging at a fresh folder and production at `production` (a flow mapping);
    both environments want v0.1.0. Returns the staging folder."""
    staging = f".mlops/deploy/{uuid.uuid4().hex[:8]}"
    text = (root / "mlops.yaml").read_text()
    text = re.sub(
        r"(  staging:\n    target: ).*\n", rf"\g<1>{{kind: directory, path: {staging}}}\n", text
    )
    text = re.sub(r"(    approval: true.*\n    target: ).*\n", rf"\g<1>{production}\n", text)
    (root / "mlops.yaml").write_text(text)
    (root / "deployments.yaml").write_text(
        f"staging:\n  {MODEL}: latest\nproduction:\n  {MODEL}: v0.1.0\n"
    )
    return staging


def unreachable() -> tuple[str, str]:
    """A production target nobody listens at, and its endpoint."""
    endpoint = f"http://127.0.0.1:{unused_port()}"
    return f"{{kind: s3, url: 's3://{BUCKET}/iris', endpoint_url: '{endpoint}'}}", endpoint


def test_deploy_partial_failure_names_the_failed_environment(repo: Path, sh: Sh) -> None:
    target, endpoint = unreachable()
    staging = configure(repo, target)
    result = sh("mlops", "deploy", cwd=repo, check=False)
    assert result.returncode == 1
    assert result.stdout == f"staging: {MODEL} (none) -> v0.1.0\n"
    lines = result.stderr.splitlines()
    assert lines[0].startswith(
        f"production: {MODEL}: FAILED: s3://{BUCKET}/iris: cannot reach the S3 endpoint "
        f"{endpoint} to "
    )
    assert lines[1:] == [
        "  hint: check endpoint_url in mlops.yaml and that the server is up and reachable",
        "error: 1 deployment(s) failed; the previous versions keep serving",
        "  hint: fix the cause above and run `mlops deploy` again; it resumes safely",
    ]
    pointer = json.loads((repo / staging / MODEL / "current.json").read_text())
    assert pointer["version"] == "v0.1.0"  # the reachable environment was deployed

    history = json.loads(sh("mlops", "history", "--format", "json", cwd=repo).stdout)
    deployed = [e for e in history["events"] if e["kind"] == "deployed"]
    assert [(e["env"], e["version"]) for e in deployed] == [("staging", "v0.1.0")]
    assert deployed[0]["detail"].startswith("(none) -> v0.1.0 by ")
    assert history["warnings"] == [
        w for w in history["warnings"] if w.startswith("production: audit records unavailable: ")
    ]
    assert len(history["warnings"]) == 1


def test_status_with_an_unreachable_target(repo: Path, sh: Sh) -> None:
    target, endpoint = unreachable()
    configure(repo, target)
    result = sh("mlops", "status", "--format", "json", cwd=repo, check=False)
    assert result.returncode == 1
    rows = {row["env"]: row for row in json.loads(result.stdout)}
    assert rows["staging"] == {
        "env": "staging",
        "model": MODEL,
        "wanted": "latest",
        "desired": "v0.1.0",
        "actual": "(none)",
        "state": "drift",
    }
    production = rows["production"]
    assert (production["desired"], production["state"]) == ("v0.1.0", "drift")
    assert production["actual"].startswith(
        f"unreachable: s3://{BUCKET}/iris: cannot reach the S3 endpoint {endpoint} "
        "to read the pointer: "
    )
    assert result.stderr.startswith("error: 2 drift(s): staging/iris-classifier should run v0.1.0")


def test_deploy_breaks_a_corrupt_s3_lease(repo: Path, sh: Sh, s3_endpoint: str) -> None:
    """A lease whose body is not a lease counts as infinitely old (it crashed deploy with
    `KeyError: 'epoch'`, exit 3)."""
    prefix = f"iris-{uuid.uuid4().hex[:6]}"
    configure(repo, f"{{kind: s3, url: 's3://{BUCKET}/{prefix}', endpoint_url: '{s3_endpoint}'}}")
    client = s3_client(s3_endpoint)
    key = f"{prefix}/{MODEL}/lock"
    client.put_object(Bucket=BUCKET, Key=key, Body=b"\x00garbage, not a lease")
    sh("mlops", "deploy", "--env", "staging", cwd=repo)  # production requires staging
    result = sh("mlops", "deploy", "--env", "production", cwd=repo, check=False)
    assert (result.returncode, result.stderr) == (0, "")
    assert result.stdout == f"production: {MODEL} (none) -> v0.1.0\n"
    keys = [o["Key"] for o in client.list_objects_v2(Bucket=BUCKET, Prefix=prefix)["Contents"]]
    assert key not in keys  # broken, then ours released
    assert f"{prefix}/{MODEL}/current.json" in keys
