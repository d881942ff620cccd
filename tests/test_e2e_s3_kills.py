"""End to end: S3 deploys killed at random points, 30 times; each next deploy converges.

Staging is an S3 prefix on the moto server and flips between two registered
versions. Each round starts `mlops deploy` as a real process and sends it
SIGKILL after a seeded random delay (aimed at the stretch of a typical run where
it holds the lease and writes to the target, and the start-up just before),
then runs `mlops deploy` again: it must exit 0, the target must serve the
wanted version, no lease may be left, and the audit records must form one
unbroken chain ending at the served version (every version that served has its
record).
"""

from __future__ import annotations

import itertools
import json
import random
import re
import signal
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from s3server import moto_server, s3_client, use_test_credentials

from conftest import Sh, copy_template, git_commit

pytestmark = pytest.mark.slow

MODEL = "iris-classifier"
BUCKET = "models"
KILLS = 30
SEED = 20261130


@pytest.fixture(scope="module")
def sh(tmp_path_factory: pytest.TempPathFactory) -> Sh:
    shell = Sh(tmp_path_factory.mktemp("home"))
    use_test_credentials(shell.env)
    return shell


@pytest.fixture(scope="module")
def s3_endpoint() -> Iterator[str]:
    with moto_server() as endpoint:
        s3_client(endpoint).create_bucket(Bucket=BUCKET)
        yield endpoint


@pytest.fixture(scope="module")
def repo(tmp_path_factory: pytest.TempPathFactory, sh: Sh, trained_template: Path) -> Path:
    """The trained example with v0.1.0 and v0.1.1 (80 trees) registered."""
    root = copy_template(trained_template, tmp_path_factory.mktemp("s3-kills") / "demo")
    sh("mlops", "register", "iris", cwd=root)
    source = root / "pipelines/iris.yaml"
    source.write_text(source.read_text().replace("n_estimators: 100", "n_estimators: 80"))
    sh("mlops", "run", cwd=root)
    git_commit(sh, root, "train v0.1.1")
    sh("mlops", "register", "iris", cwd=root)
    return root


class Staging:
    """What the S3 staging target holds, read straight from the server."""

    def __init__(self, client: Any, prefix: str) -> None:
        self.client, self.home = client, f"{prefix}/{MODEL}"

    def _get(self, key: str) -> Any:
        return json.loads(self.client.get_object(Bucket=BUCKET, Key=key)["Body"].read())

    def keys(self, below: str = "") -> list[str]:
        pages = self.client.get_paginator("list_objects_v2").paginate(
            Bucket=BUCKET, Prefix=f"{self.home}/{below}"
        )
        return sorted(str(o["Key"]) for page in pages for o in page.get("Contents", []))

    def serves(self) -> str | None:
        key = f"{self.home}/current.json"
        return str(self._get(key)["version"]) if key in self.keys() else None

    def audit(self) -> list[dict[str, Any]]:
        return [self._get(key) for key in self.keys("audit/")]

    def lease(self) -> bool:
        return f"{self.home}/lock" in self.keys()


def want(repo: Path, version: str) -> None:
    (repo / "deployments.yaml").write_text(f"staging:\n  {MODEL}: {version}\n")


def deploy(sh: Sh, repo: Path) -> subprocess.CompletedProcess[str]:
    return sh("mlops", "deploy", "--env", "staging", cwd=repo, check=False)


def check_converged(staging: Staging, wanted: str, note: str) -> None:
    assert staging.serves() == wanted, note
    assert not staging.lease(), note
    audit = staging.audit()
    assert audit[0]["previous"] is None, note
    for earlier, later in itertools.pairwise(audit):
        assert later["previous"] == earlier["version"], (note, audit)
    assert audit[-1]["version"] == wanted, (note, audit)


def test_thirty_kills_each_converge_on_the_next_deploy(
    repo: Path, sh: Sh, s3_endpoint: str
) -> None:
    prefix = f"kills-{uuid.uuid4().hex[:6]}"
    target = f"{{kind: s3, url: 's3://{BUCKET}/{prefix}', endpoint_url: '{s3_endpoint}'}}"
    text = (repo / "mlops.yaml").read_text()
    text = re.sub(r"(  staging:\n    target: ).*\n", rf"\g<1>{target}\n", text)
    (repo / "mlops.yaml").write_text(text)
    staging = Staging(s3_client(s3_endpoint), prefix)

    # Store both versions once, then time a deploy that only switches: when it takes the
    # lease (polled) and when it ends. The kills aim at that stretch, where a deploy
    # writes to the target, and at the start-up before it.
    for version in ("v0.1.0", "v0.1.1"):
        want(repo, version)
        assert deploy(sh, repo).returncode == 0
    want(repo, "v0.1.0")
    started = time.monotonic()
    proc = subprocess.Popen(["mlops", "deploy", "--env", "staging"], cwd=repo, env=sh.env)
    locked = None
    while proc.poll() is None:
        if locked is None and staging.lease():
            locked = time.monotonic() - started
        time.sleep(0.05)  # light polling: the run it times must not slow down
    ended = time.monotonic() - started
    assert proc.returncode == 0
    check_converged(staging, "v0.1.0", "before the kills")
    earliest = 0.7 * (locked or ended / 2)

    rng = random.Random(SEED)
    versions = ["v0.1.1", "v0.1.0"]
    kills = rounds = 0
    left: dict[str, int] = {"lease": 0, "switched": 0, "unaudited": 0}
    while kills < KILLS:
        rounds += 1
        assert rounds <= 3 * KILLS, f"only {kills} of {rounds} runs were still alive to kill"
        wanted = versions[rounds % 2]
        before = staging.serves()
        want(repo, wanted)
        proc = subprocess.Popen(
            ["mlops", "deploy", "--env", "staging"],
            cwd=repo,
            env=sh.env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        time.sleep(rng.uniform(earliest, ended))
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
            kills += 1
        proc.wait()
        # What the kill left behind, for the failure message.
        served = staging.serves()
        left["lease"] += staging.lease()
        left["switched"] += served != before
        left["unaudited"] += served != staging.audit()[-1]["version"]

        result = deploy(sh, repo)
        note = f"round {rounds} (kill {kills}), left so far: {left}"
        assert result.returncode == 0, (note, result.stderr)
        check_converged(staging, wanted, note)

    print(f"{kills} kills in {rounds} rounds; the kills left: {left}")  # shown with -s
    status = sh("mlops", "status", "--format", "json", cwd=repo, check=False)
    rows = {row["env"]: row for row in json.loads(status.stdout)}
    assert (rows["staging"]["actual"], rows["staging"]["state"]) == (versions[rounds % 2], "ok")
