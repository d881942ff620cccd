"""The S3 target when replies are lost, requests are slow and holders are killed.

Every request goes through a real HTTP proxy on 127.0.0.1 (`faultproxy.py`) in
front of the moto server; a rule loses the reply of one request after the
server performed it, loses a request, or delays one. botocore retries a
request whose reply never came, so the retry meets the effect of the first
attempt: the lease exists, the pointer's ETag changed, the audit key is taken.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from faultproxy import FaultProxy, fault_proxy
from runner.deploy.targets.base import TargetError
from runner.deploy.targets.s3 import S3Target
from s3server import moto_server, s3_client
from test_targets import _aws_env, deployable, lease_body, lease_of, plant, record

__all__ = ["_aws_env"]  # the autouse fixture that sets the test server's credentials

BUCKET = "models"
MODEL = "iris-classifier"
LOCK = r"/iris-classifier/lock$"
POINTER = r"/iris-classifier/current\.json$"
AUDIT = r"/iris-classifier/audit/"


@pytest.fixture(scope="module")
def s3_endpoint() -> Iterator[str]:
    with moto_server() as endpoint:
        s3_client(endpoint).create_bucket(Bucket=BUCKET)
        yield endpoint


@pytest.fixture
def proxy(s3_endpoint: str) -> Iterator[FaultProxy]:
    with fault_proxy(s3_endpoint) as running:
        yield running


def through(proxy: FaultProxy, **options: Any) -> S3Target:
    """A target with a fresh prefix, reached through the proxy."""
    return S3Target(BUCKET, f"f-{uuid.uuid4().hex[:8]}", endpoint_url=proxy.endpoint, **options)


def token_of(target: S3Target) -> str | None:
    body = lease_of(target)
    return None if body is None else str(json.loads(body)["token"])


# ---------------------------------------------------------------------- lease


def test_lost_reply_on_taking_the_lease(proxy: FaultProxy) -> None:
    """The retry of the lease PUT finds the key taken: by us. Today's main waited for
    itself until the lock timeout and left its lease behind."""
    target = through(proxy, lock_timeout=0.5)
    proxy.drop_reply("PUT", LOCK)
    with target.lock(MODEL):
        assert token_of(target) == target._leases[MODEL].token
    assert len(proxy.fired("dropped")) == 1
    assert lease_of(target) is None  # released: it blocks nobody


def test_every_reply_of_the_lease_put_lost(proxy: FaultProxy) -> None:
    """No answer to any try: the lease read back carries our token, so it is ours."""
    target = through(proxy, lock_timeout=0.5)
    proxy.drop_reply("PUT", LOCK, times=3)
    with target.lock(MODEL):
        assert token_of(target) == target._leases[MODEL].token
    assert len(proxy.fired("dropped")) == 3
    assert lease_of(target) is None


def test_every_lease_put_lost_on_the_way(proxy: FaultProxy) -> None:
    """The server never saw the lease: the error says it could not take the lock, and no
    lease is left to block anyone."""
    target = through(proxy, lock_timeout=0.5)
    proxy.drop_request("PUT", LOCK, times=3)
    with pytest.raises(TargetError) as info, target.lock(MODEL):
        pass
    assert str(info.value).startswith(
        f"{target.describe()}: cannot reach the S3 endpoint {proxy.endpoint} to take the "
        "deploy lock: Connection was closed before we received a valid response"
    )
    assert lease_of(target) is None


def test_lost_reply_on_breaking_a_stale_lease(proxy: FaultProxy) -> None:
    target = through(proxy, lock_timeout=0.5)
    plant(target, b"not a lease {")
    proxy.drop_reply("PUT", LOCK, nth=2)  # 1: the create (412), 2: the takeover
    with target.lock(MODEL):
        assert token_of(target) == target._leases[MODEL].token
    assert len(proxy.fired("dropped")) == 1
    assert lease_of(target) is None


def test_lost_reply_on_releasing_the_lease(proxy: FaultProxy) -> None:
    target = through(proxy)
    proxy.drop_reply("DELETE", LOCK)
    with target.lock(MODEL):
        pass
    assert len(proxy.fired("dropped")) == 1
    assert lease_of(target) is None


def test_the_lease_is_renewed_while_held(proxy: FaultProxy) -> None:
    """A deploy that runs longer than the lease's TTL keeps its lease: a waiter does not
    break it as stale (it did after 15 minutes; now the TTL is short and renewed), even
    when the reply of one renewal is lost."""
    holder = through(proxy, lease_ttl=3.0)
    waiter = S3Target(holder.bucket, holder.prefix, endpoint_url=proxy.endpoint, lock_timeout=0.3)
    proxy.drop_reply("PUT", LOCK, nth=2)  # the first renewal
    with holder.lock(MODEL):
        time.sleep(5)  # past the TTL by the server's whole-second clock
        with pytest.raises(TargetError, match="another deploy holds the lock"), waiter.lock(MODEL):
            pass
        lease = holder._leases[MODEL]
        assert lease.lost is None
        assert token_of(holder) == lease.token
    assert len(proxy.fired("dropped")) == 1
    assert lease_of(holder) is None


def test_a_lost_lease_stops_the_switch(proxy: FaultProxy, tmp_path: Path) -> None:
    target = through(proxy, lease_ttl=0.6)
    p1 = deployable(target, tmp_path, "v1")
    with target.lock(MODEL):
        theirs = plant(target, lease_body(time.time()))  # taken over behind our back
        time.sleep(1)  # a renewal finds it
        with pytest.raises(TargetError) as info:
            target.switch(MODEL, None, p1)
    assert str(info.value) == (
        f"{target.describe()}: this deploy lost the lock of {MODEL} "
        "(another deploy broke it as stale); the pointer was not switched"
    )
    assert target.current(MODEL) is None
    assert lease_of(target) == theirs  # not ours to delete


_HOLD = """
import sys, time
from runner.deploy.targets.s3 import S3Target
target = S3Target("models", sys.argv[2], endpoint_url=sys.argv[1])
with target.lock("iris-classifier"):
    print("held", flush=True)
    time.sleep(60)
"""


def test_a_killed_holders_lease_is_broken_at_once(s3_endpoint: str, tmp_path: Path) -> None:
    """A deploy killed on this machine leaves its lease; the next deploy here sees that
    its holder is gone and takes the lock without waiting out the TTL."""
    target = S3Target(BUCKET, f"k-{uuid.uuid4().hex[:8]}", endpoint_url=s3_endpoint)
    held = subprocess.Popen(
        [sys.executable, "-c", _HOLD, s3_endpoint, target.prefix],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert held.stdout is not None and held.stdout.readline() == "held\n"
    finally:
        held.send_signal(signal.SIGKILL)
        held.wait()
    left = lease_of(target)
    assert left is not None and json.loads(left)["pid"] == held.pid
    target.lock_timeout = 0.5  # far below the TTL: only the dead holder lets us in
    with target.lock(MODEL):
        assert token_of(target) == target._leases[MODEL].token
    assert lease_of(target) is None


# -------------------------------------------------------------------- pointer


def test_lost_reply_on_the_pointer_put(proxy: FaultProxy, tmp_path: Path) -> None:
    """The retry of the conditional PUT fails its condition because the first attempt
    switched the pointer: that is our own write, not a conflict. Today's main raised
    PointerConflict ("previous versions keep serving") with the pointer moved."""
    target = through(proxy)
    p1, p2 = deployable(target, tmp_path, "v1"), deployable(target, tmp_path, "v2")
    proxy.drop_reply("PUT", POINTER, times=2)  # the first switch (If-None-Match), the second
    target.switch(MODEL, None, p1)
    assert target.current(MODEL) == p1
    target.switch(MODEL, p1, p2)
    assert target.current(MODEL) == p2
    assert len(proxy.fired("dropped")) == 2


def test_every_reply_of_the_pointer_put_lost(proxy: FaultProxy, tmp_path: Path) -> None:
    """Both attempts performed, no reply at all: the pointer read back says it moved."""
    target = through(proxy)
    p1, p2 = deployable(target, tmp_path, "v1"), deployable(target, tmp_path, "v2")
    target.switch(MODEL, None, p1)
    proxy.drop_reply("PUT", POINTER, times=5)
    target.switch(MODEL, p1, p2)
    assert target.current(MODEL) == p2


def test_every_pointer_put_lost_on_the_way(proxy: FaultProxy, tmp_path: Path) -> None:
    """The server never saw the switch: the error says so, and the pointer is unmoved."""
    target = through(proxy)
    p1, p2 = deployable(target, tmp_path, "v1"), deployable(target, tmp_path, "v2")
    target.switch(MODEL, None, p1)
    proxy.drop_request("PUT", POINTER, times=5)
    with pytest.raises(TargetError) as info:
        target.switch(MODEL, p1, p2)
    assert str(info.value).startswith(
        f"{target.describe()}: cannot reach the S3 endpoint {proxy.endpoint} to switch: "
    )
    assert info.value.hint is not None and "a write that timed out may still land" in (
        info.value.hint
    )
    assert target.current(MODEL) == p1
    assert len(proxy.fired("cut")) >= 2  # every attempt botocore made


# ---------------------------------------------------------------------- audit


def test_lost_reply_on_the_audit_put(proxy: FaultProxy) -> None:
    """The retry finds the new record's key taken, by the record itself. Today's main
    let botocore's Conflict through: "internal error: Conflict", exit 3."""
    target = through(proxy)
    proxy.drop_reply("PUT", AUDIT)
    target.append_audit(MODEL, record(version="v1"))
    assert target.audit(MODEL) == [record(version="v1")]
    assert len(proxy.fired("dropped")) == 1


def test_lost_reply_on_an_upload(proxy: FaultProxy, tmp_path: Path) -> None:
    target = through(proxy)
    proxy.drop_reply("PUT", r"/versions/v1/")
    deployable(target, tmp_path, "v1")
    assert target.read_file(MODEL, "v1", "model.skops") == b"v1" * 100
    assert len(proxy.fired("dropped")) == 1


# ---------------------------------------------------------------- slow server


def test_a_slow_reply_within_the_timeout_works(proxy: FaultProxy, tmp_path: Path) -> None:
    target = through(proxy, read_timeout=3)
    p1 = deployable(target, tmp_path, "v1")
    target.switch(MODEL, None, p1)
    proxy.delay("GET", POINTER, 1.0)
    assert target.current(MODEL) == p1
    assert len(proxy.fired("delayed")) == 1


def test_a_reply_beyond_the_timeout_names_the_target(proxy: FaultProxy) -> None:
    target = through(proxy, read_timeout=0.5)
    proxy.delay("GET", POINTER, 1.5, times=5)
    with pytest.raises(TargetError) as info:
        target.current(MODEL)
    assert str(info.value).startswith(
        f"{target.describe()}: the S3 endpoint {proxy.endpoint} did not answer in time to "
        "read the pointer (Read timeout on endpoint URL: "
    )
    assert info.value.hint == (
        "the server is slow or overloaded; check it, then run the command again"
    )
    assert len(proxy.fired("delayed")) >= 2  # every attempt botocore made
