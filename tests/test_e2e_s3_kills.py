"""End to end: S3 deploys killed at random points, 30 times; each next deploy converges.

Staging is an S3 prefix on the moto server, reached through the fault proxy
(`faultproxy.py`), and flips between two registered versions. Each round starts
`mlops deploy` as a real process and kills it with SIGKILL at a seeded random
point: the proxy holds its Nth request (N random among the requests a deploy
makes), before the server performs it or after (then the reply never comes),
and the process is killed while it waits. Every state a deploy can leave on the
server is reached that way, whatever the load on the machine, which a bare
random delay cannot promise. Then `mlops deploy` runs again: it must exit 0, the
target must serve the wanted version, no lease may be left, and the audit
records must form one unbroken chain ending at the served version (every
version that served has its record).
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
from pathlib import Path
from typing import Any

import pytest

from faultproxy import FaultProxy, fault_proxy
from s3server import BUCKET, s3_client

from conftest import Sh, copy_template, git_commit

pytestmark = pytest.mark.slow

MODEL = "iris-classifier"
KILLS = 30
SEED = 20261130


@pytest.fixture(scope="module")
def repo(tmp_path_factory: pytest.TempPathFactory, sh: Sh, trained_template: Path) -> Path:
    """The trained example with v0.1.0 and v0.1.1 registered. v0.1.1 is the same model
    registered again at a later commit (no retraining): the target still stores it under
    its own keys and switches between the two."""
    root = copy_template(trained_template, tmp_path_factory.mktemp("s3-kills") / "demo")
    sh("mlops", "register", "iris", cwd=root)
    (root / "NOTES.md").write_text("A commit to register a second version at.\n")
    git_commit(sh, root, "notes")
    assert sh("mlops", "register", "iris", cwd=root).stdout.startswith(
        f"registered {MODEL} v0.1.1 at "
    )
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


def killed_at(proc: subprocess.Popen[bytes], proxy: FaultProxy, rng: random.Random) -> bool:
    """SIGKILL `proc` once the proxy holds its request (after a short random delay);
    False when it ended before reaching the held request."""
    while not proxy.held.wait(0.02):
        if proc.poll() is not None:
            return False
    time.sleep(rng.uniform(0.0, 0.05))
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    return True


def test_thirty_kills_each_converge_on_the_next_deploy(
    repo: Path, sh: Sh, s3_endpoint: str
) -> None:
    prefix = f"kills-{uuid.uuid4().hex[:6]}"
    staging = Staging(s3_client(s3_endpoint), prefix)
    with fault_proxy(s3_endpoint) as proxy:
        target = f"{{kind: s3, url: 's3://{BUCKET}/{prefix}', endpoint_url: '{proxy.endpoint}'}}"
        text = (repo / "mlops.yaml").read_text()
        text = re.sub(r"(  staging:\n    target: ).*\n", rf"\g<1>{target}\n", text)
        (repo / "mlops.yaml").write_text(text)

        # Store both versions, then count the requests of a deploy that only switches.
        for version in ("v0.1.0", "v0.1.1", "v0.1.0"):
            want(repo, version)
            proxy.clear()
            assert deploy(sh, repo).returncode == 0
        requests = len(proxy.events)
        check_converged(staging, "v0.1.0", "before the kills")

        rng = random.Random(SEED)
        versions = ["v0.1.1", "v0.1.0"]
        kills = rounds = 0
        left = {"lease": 0, "switched": 0, "unaudited": 0}
        while kills < KILLS:
            rounds += 1
            assert rounds <= 2 * KILLS, f"only {kills} of {rounds} runs reached their kill"
            wanted = versions[rounds % 2]
            before = staging.serves()
            want(repo, wanted)
            proxy.clear()
            point = (rng.randint(1, requests), rng.random() < 0.5)
            proxy.hold("*", ".", nth=point[0], after=point[1])
            proc = subprocess.Popen(
                ["mlops", "deploy", "--env", "staging"],
                cwd=repo,
                env=sh.env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            kills += killed_at(proc, proxy, rng)
            proc.wait()
            proxy.release()
            served = staging.serves()
            left["lease"] += staging.lease()
            left["switched"] += served != before
            left["unaudited"] += served != staging.audit()[-1]["version"]

            result = deploy(sh, repo)
            note = f"round {rounds}, kill {kills} at request {point}; left so far: {left}"
            assert result.returncode == 0, (note, result.stderr)
            check_converged(staging, wanted, note)

        status = sh("mlops", "status", "--format", "json", cwd=repo, check=False)
    print(f"{kills} kills in {rounds} rounds ({requests} requests a deploy); left: {left}")
    rows = {row["env"]: row for row in json.loads(status.stdout)}
    assert (rows["staging"]["actual"], rows["staging"]["state"]) == (versions[rounds % 2], "ok")
