"""End to end: `mlops deploy` to S3 through a proxy that loses replies and delays requests.

Production is an S3 prefix reached through `faultproxy.FaultProxy` in front of
the moto server. Each test loses one reply (the server did the work), loses
every try of one request (the server never saw it), or delays one, and checks
the exit code, the report, and what the target really holds: its pointer, its
lease and its audit records.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from faultproxy import FaultProxy, fault_proxy
from s3server import BUCKET, s3_client

from conftest import Sh, copy_template

pytestmark = pytest.mark.slow

MODEL = "iris-classifier"


@pytest.fixture(scope="module")
def repo(tmp_path_factory: pytest.TempPathFactory, sh: Sh, trained_template: Path) -> Path:
    """The trained example with v0.1.0 registered and deployed to staging (a folder)."""
    root = copy_template(trained_template, tmp_path_factory.mktemp("s3-faults") / "demo")
    sh("mlops", "register", "iris", cwd=root)
    (root / "deployments.yaml").write_text(
        f"staging:\n  {MODEL}: v0.1.0\nproduction:\n  {MODEL}: v0.1.0\n"
    )
    sh("mlops", "deploy", "--env", "staging", cwd=root)
    return root


@pytest.fixture
def proxy(s3_endpoint: str) -> Iterator[FaultProxy]:
    with fault_proxy(s3_endpoint) as running:
        yield running


class Prod:
    """A fresh production prefix behind the proxy, and what it holds."""

    def __init__(self, repo: Path, proxy: FaultProxy, s3_endpoint: str, timeout: float = 10):
        self.prefix = f"iris-{uuid.uuid4().hex[:6]}"
        self.url = f"s3://{BUCKET}/{self.prefix}"
        target = (
            f"{{kind: s3, url: '{self.url}', endpoint_url: '{proxy.endpoint}', "
            f"timeout: {timeout:g}}}"
        )
        text = (repo / "mlops.yaml").read_text()
        text = re.sub(r"(    approval: true.*\n    target: ).*\n", rf"\g<1>{target}\n", text)
        (repo / "mlops.yaml").write_text(text)
        self.client: Any = s3_client(s3_endpoint)  # straight to the server, not the proxy

    def keys(self, below: str = "") -> list[str]:
        listed = self.client.list_objects_v2(Bucket=BUCKET, Prefix=f"{self.prefix}/{MODEL}/{below}")
        return [str(o["Key"]) for o in listed.get("Contents", [])]

    def pointer(self) -> str | None:
        key = f"{self.prefix}/{MODEL}/current.json"
        if key not in self.keys():
            return None
        body = self.client.get_object(Bucket=BUCKET, Key=key)["Body"].read()
        return str(json.loads(body)["version"])

    def audit(self) -> list[tuple[str | None, str]]:
        out = []
        for key in self.keys("audit/"):
            record = json.loads(self.client.get_object(Bucket=BUCKET, Key=key)["Body"].read())
            out.append((record["previous"], record["version"]))
        return out

    def lease(self) -> bool:
        return f"{self.prefix}/{MODEL}/lock" in self.keys()


@pytest.fixture
def prod(repo: Path, proxy: FaultProxy, s3_endpoint: str) -> Prod:
    return Prod(repo, proxy, s3_endpoint)


def deploy(sh: Sh, repo: Path) -> Any:
    return sh("mlops", "deploy", "--env", "production", cwd=repo, check=False)


DEPLOYED = f"production: {MODEL} (none) -> v0.1.0\n"


@pytest.mark.parametrize(
    "path",
    [r"/lock$", r"/current\.json$", r"/audit/"],
    ids=["lease", "pointer", "audit-record"],
)
def test_a_lost_reply_is_recognised(
    repo: Path, sh: Sh, proxy: FaultProxy, prod: Prod, path: str
) -> None:
    """The server performed the PUT, its reply was lost, botocore's retry met the result.
    Today's main: on the lease it waited 60 s for itself and left the lease; on the
    pointer it exited 1 saying the previous version keeps serving (the pointer had moved);
    on the audit record it exited 3 with "internal error: Conflict"."""
    proxy.drop_reply("PUT", path)
    result = deploy(sh, repo)
    assert (result.returncode, result.stdout, result.stderr) == (0, DEPLOYED, "")
    assert len(proxy.fired("dropped")) == 1
    assert prod.pointer() == "v0.1.0"
    assert prod.audit() == [(None, "v0.1.0")]
    assert not prod.lease()


def test_a_switch_the_server_never_saw(repo: Path, sh: Sh, proxy: FaultProxy, prod: Prod) -> None:
    proxy.drop_request("PUT", r"/current\.json$", times=3)
    result = deploy(sh, repo)
    assert result.returncode == 1
    lines = result.stderr.splitlines()
    assert lines[0].startswith(
        f"production: {MODEL}: FAILED: {prod.url}: cannot reach the S3 endpoint "
        f"{proxy.endpoint} to switch: "
    )
    assert lines[0].endswith(f"; nothing was switched: {prod.url} serves {MODEL} nothing")
    assert lines[2] == "error: 1 deployment(s) failed; the previous versions keep serving"
    assert (prod.pointer(), prod.audit(), prod.lease()) == (None, [], False)
    assert deploy(sh, repo).stdout == DEPLOYED  # the next run converges
    assert (prod.pointer(), prod.audit()) == ("v0.1.0", [(None, "v0.1.0")])


def test_an_audit_record_the_server_never_saw(
    repo: Path, sh: Sh, proxy: FaultProxy, prod: Prod
) -> None:
    """The pointer moved, the record could not be written: the report says what serves."""
    proxy.drop_request("PUT", r"/audit/", times=3)
    result = deploy(sh, repo)
    assert result.returncode == 1
    lines = result.stderr.splitlines()
    assert lines[0].startswith(
        f"production: {MODEL}: FAILED: {prod.url}: cannot reach the S3 endpoint "
        f"{proxy.endpoint} to append an audit record: "
    )
    assert lines[0].endswith(
        f"; {prod.url} serves {MODEL} v0.1.0 now; "
        "its audit record is written by the next `mlops deploy`"
    )
    assert lines[2] == (
        "error: 1 deployment(s) failed; see above what production/iris-classifier serve(s) now"
    )
    assert (prod.pointer(), prod.audit(), prod.lease()) == ("v0.1.0", [], False)
    healed = deploy(sh, repo)
    assert healed.stdout == (
        f"production: {MODEL} v0.1.0 already serving; "
        "recorded the audit entry an interrupted deploy missed\n"
    )
    assert prod.audit() == [(None, "v0.1.0")]


def test_a_slow_server(repo: Path, sh: Sh, proxy: FaultProxy, s3_endpoint: str) -> None:
    """Within the timeout a slow reply is only slow; beyond it, on every try, deploy
    exits 1 naming the target and saying that nothing was switched."""
    prod = Prod(repo, proxy, s3_endpoint, timeout=1)
    proxy.delay("GET", r"/current\.json$", 3, times=3)  # every try of the first read
    result = deploy(sh, repo)
    assert result.returncode == 1
    first = result.stderr.splitlines()[0]
    assert first.startswith(
        f"production: {MODEL}: FAILED: {prod.url}: the S3 endpoint {proxy.endpoint} "
        "did not answer in time to read the pointer (Read timeout on endpoint URL: "
    )
    assert first.endswith(f"; nothing was switched: {prod.url} serves {MODEL} nothing")
    assert len(proxy.fired("delayed")) == 3
    assert (prod.pointer(), prod.lease()) == (None, False)

    proxy.clear()
    proxy.delay("GET", r"/current\.json$", 0.5, times=2)
    assert deploy(sh, repo).stdout == DEPLOYED
    assert len(proxy.fired("delayed")) == 2
    assert prod.pointer() == "v0.1.0"
