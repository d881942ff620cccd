"""Both deployment targets against the real thing: a temp folder and a moto S3 server."""

from __future__ import annotations

import hashlib
import json
import os
import random
import re
import stat
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from runner.config.targets import TARGET_KINDS
from runner.config.targets import DirectoryTargetConfig as DirectoryConfig
from runner.config.targets import S3TargetConfig as S3Config
from runner.deploy.targets import TARGET_IMPLEMENTATIONS, open_target
from runner.deploy.targets.base import AuditRecord, Pointer, PointerConflict, Target, TargetError
from runner.deploy.targets.directory import DirectoryTarget
from runner.deploy.targets.s3 import S3Target
from s3server import CREDENTIALS, moto_server, unused_port

from conftest import build_tree

BUCKET = "models"
MODEL = "iris-classifier"


@pytest.fixture(autouse=True)
def _aws_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in CREDENTIALS.items():
        monkeypatch.setenv(name, value)
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_CONFIG_FILE", "AWS_REGION"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")  # no 169.254.169.254 probing


@pytest.fixture(scope="module")
def s3_endpoint() -> Iterator[str]:
    with moto_server() as endpoint:
        client = boto3.client(
            "s3",
            endpoint_url=endpoint,
            region_name=CREDENTIALS["AWS_DEFAULT_REGION"],
            aws_access_key_id=CREDENTIALS["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
        )
        client.create_bucket(Bucket=BUCKET)
        yield endpoint


@pytest.fixture(params=["directory", "s3"])
def target(request: pytest.FixtureRequest, tmp_path: Path) -> Target:
    if request.param == "directory":
        return open_target(DirectoryConfig(kind="directory", path="deploy/staging"), tmp_path)
    endpoint = request.getfixturevalue("s3_endpoint")
    url = f"s3://{BUCKET}/{uuid.uuid4().hex[:8]}/deploy"  # a fresh prefix per test
    return open_target(S3Config(kind="s3", url=url, endpoint_url=endpoint), tmp_path)


def stored(target: Target, model: str = MODEL) -> list[str]:
    """Every file or key the target holds below the model's versions, hidden ones too."""
    if isinstance(target, DirectoryTarget):
        root = target.path / model / "versions"
        return (
            sorted(p.relative_to(root).as_posix() for p in root.rglob("*")) if root.exists() else []
        )
    assert isinstance(target, S3Target)
    return target.s3.keys(target._key(model, "versions") + "/", "list")


def make_source(tmp_path: Path, content: dict[str, bytes]) -> tuple[Path, dict[str, str]]:
    """A model folder and its manifest (relative path -> sha256)."""
    folder = build_tree(tmp_path / f"src-{uuid.uuid4().hex[:6]}", dict(content))
    return folder, {rel: hashlib.sha256(data).hexdigest() for rel, data in content.items()}


def deployable(target: Target, tmp_path: Path, version: str, commit: str = "") -> Pointer:
    folder, files = make_source(tmp_path, {"model.skops": version.encode() * 100})
    target.upload(MODEL, version, folder, files)
    return Pointer(model=MODEL, version=version, digest="d" + version, commit=commit)


def record(**fields: Any) -> AuditRecord:
    """An audit record with placeholder values for the fields a test does not care about."""
    base: dict[str, Any] = {
        "time": "2026-01-01T00:00:00.000000+00:00",
        "env": "staging",
        "model": MODEL,
        "version": "v1",
        "commit": "c",
        "digest": "d",
        "previous": None,
        "actor": "Test User <test@example.com>",
    }
    return AuditRecord(**{**base, **fields})


V1 = {"model.skops": b"weights-1" * 1000, "meta/params.json": b'{"max_depth": 5}\n'}


# ------------------------------------------------------------------ versions


def test_upload_then_read_back(target: Target, tmp_path: Path) -> None:
    folder, files = make_source(tmp_path, V1)
    assert not target.has_version(MODEL, "v1", files)
    target.upload(MODEL, "v1", folder, files)
    assert target.has_version(MODEL, "v1", files)
    assert target.read_file(MODEL, "v1", "meta/params.json") == V1["meta/params.json"]
    assert target.read_file(MODEL, "v1", "model.skops") == V1["model.skops"]
    assert not target.has_version(MODEL, "v1", {**files, "model.skops": "0" * 64})
    assert not target.has_version(MODEL, "v2", files)


def test_upload_is_idempotent(target: Target, tmp_path: Path) -> None:
    folder, files = make_source(tmp_path, V1)
    target.upload(MODEL, "v1", folder, files)
    before = stored(target)
    target.upload(MODEL, "v1", folder, files)
    assert stored(target) == before
    assert target.has_version(MODEL, "v1", files)


def test_one_file_artifact(target: Target, tmp_path: Path) -> None:
    path = tmp_path / "model.skops"
    path.write_bytes(b"one file")
    files = {"model.skops": hashlib.sha256(b"one file").hexdigest()}
    target.upload(MODEL, "v1", path, files)
    assert target.read_file(MODEL, "v1", "model.skops") == b"one file"


def test_corrupt_source_is_refused_and_leaves_nothing(target: Target, tmp_path: Path) -> None:
    folder, files = make_source(tmp_path, V1)
    (folder / "model.skops").write_bytes(b"tampered")
    with pytest.raises(TargetError) as info:
        target.upload(MODEL, "v1", folder, files)
    got = hashlib.sha256(b"tampered").hexdigest()
    assert str(info.value) == (
        f"{folder / 'model.skops'}: sha256 mismatch: "
        f"expected {files['model.skops'][:12]}…, got {got[:12]}…"
    )
    assert info.value.hint == "the source bytes differ from the manifest; nothing was uploaded"
    assert stored(target) == []
    assert not target.has_version(MODEL, "v1", files)


def test_stored_version_is_never_overwritten(target: Target, tmp_path: Path) -> None:
    folder, files = make_source(tmp_path, V1)
    target.upload(MODEL, "v1", folder, files)
    other, other_files = make_source(tmp_path, {**V1, "model.skops": b"different"})
    with pytest.raises(TargetError, match="v1 of iris-classifier is already stored with differ"):
        target.upload(MODEL, "v1", other, other_files)
    assert target.read_file(MODEL, "v1", "model.skops") == V1["model.skops"]


def overwrite_stored(target: Target, model: str, version: str, rel: str, data: bytes) -> None:
    """Replace one stored file behind the target's back; on S3 the object keeps the
    `sha256` metadata of the original, as an attacker (or a bit flip) would leave it."""
    if isinstance(target, DirectoryTarget):
        path = target.path / model / "versions" / version / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        return
    assert isinstance(target, S3Target)
    key = target._version_key(model, version, rel)
    sha = hashlib.sha256(data).hexdigest()
    meta = target.s3.head(key, "head") or {"sha256": sha}
    target.s3._raw().put_object(Bucket=target.bucket, Key=key, Body=data, Metadata=meta)


def flip_a_byte(data: bytes) -> bytes:
    return bytes([data[0] ^ 1]) + data[1:]


def test_a_flipped_byte_is_not_a_stored_version(target: Target, tmp_path: Path) -> None:
    """On S3, `has_version` believed the `sha256` metadata: a byte flipped in a stored
    object (metadata kept) still counted as the version, so deploy said nothing to do."""
    folder, files = make_source(tmp_path, V1)
    target.upload(MODEL, "v1", folder, files)
    assert target.manifest(MODEL, "v1") == files
    overwrite_stored(target, MODEL, "v1", "model.skops", flip_a_byte(V1["model.skops"]))
    assert not target.has_version(MODEL, "v1", files)
    flipped = hashlib.sha256(flip_a_byte(V1["model.skops"])).hexdigest()
    assert target.manifest(MODEL, "v1") == {**files, "model.skops": flipped}
    with pytest.raises(TargetError, match="v1 of iris-classifier is already stored with differ"):
        target.upload(MODEL, "v1", folder, files)


def test_files_written_first_with_forged_metadata_are_refused(
    target: Target, tmp_path: Path
) -> None:
    """An attacker writes a version's files before the deploy, with the `sha256` metadata
    the deploy expects (on S3) but other bytes: the upload refuses them, never adopts them."""
    folder, files = make_source(tmp_path, V1)
    for rel in files:
        overwrite_stored(target, MODEL, "v1", rel, b"attacker's " + rel.encode())
        if isinstance(target, S3Target):
            key = target._version_key(MODEL, "v1", rel)
            body = target.s3.get(key, "get")[0]
            target.s3._raw().put_object(
                Bucket=target.bucket, Key=key, Body=body, Metadata={"sha256": files[rel]}
            )
            assert target.s3.head(key, "head") == {"sha256": files[rel]}
    assert not target.has_version(MODEL, "v1", files)
    with pytest.raises(TargetError, match="already stored with different files"):
        target.upload(MODEL, "v1", folder, files)
    assert target.read_file(MODEL, "v1", "model.skops") == b"attacker's model.skops"
    assert target.manifest(MODEL, "v2") == {}


@pytest.mark.parametrize("model, version", [("../etc", "v1"), (MODEL, "v1/../../x"), ("", "v1")])
def test_names_cannot_escape(target: Target, tmp_path: Path, model: str, version: str) -> None:
    folder, files = make_source(tmp_path, V1)
    with pytest.raises(TargetError, match="invalid"):
        target.upload(model, version, folder, files)


# ------------------------------------------------------------------- pointer


def test_switch_moves_the_pointer(target: Target, tmp_path: Path) -> None:
    assert target.current(MODEL) is None
    p1, p2 = deployable(target, tmp_path, "v1", "c1"), deployable(target, tmp_path, "v2", "c2")
    target.switch(MODEL, None, p1)
    assert target.current(MODEL) == p1
    target.switch(MODEL, p1, p2)
    assert target.current(MODEL) == p2


def test_stale_switch_conflicts_and_keeps_the_pointer(target: Target, tmp_path: Path) -> None:
    p1, p2, p3 = (deployable(target, tmp_path, v) for v in ("v1", "v2", "v3"))
    target.switch(MODEL, None, p1)
    target.switch(MODEL, p1, p2)
    for stale in (p1, None):
        with pytest.raises(PointerConflict) as info:
            target.switch(MODEL, stale, p3)
        assert f"{MODEL} now points at v2, not {stale.version if stale else 'nothing'}" in str(
            info.value
        )
        assert target.current(MODEL) == p2


def test_switch_to_a_version_not_stored_is_refused(target: Target, tmp_path: Path) -> None:
    p1 = deployable(target, tmp_path, "v1")
    target.switch(MODEL, None, p1)
    with pytest.raises(TargetError, match="version v9 of iris-classifier is not stored"):
        target.switch(MODEL, p1, Pointer(model=MODEL, version="v9", digest="d"))
    assert target.current(MODEL) == p1


def test_concurrent_switches_form_one_chain(target: Target, tmp_path: Path) -> None:
    """20 deployers each read the pointer and switch it, retrying on conflict: every
    success must extend the one before it, and a reader never sees a torn pointer."""
    versions = [deployable(target, tmp_path, f"v{i}") for i in range(3)]
    start = versions[0]
    target.switch(MODEL, None, start)
    wins: dict[Pointer | None, Pointer] = {}
    guard, done = threading.Lock(), threading.Event()

    def deployer(i: int) -> None:
        chosen = versions[i % 3]
        new = Pointer(model=MODEL, version=chosen.version, digest=chosen.digest, commit=f"t{i}")
        for _ in range(500):
            seen = target.current(MODEL)
            try:
                target.switch(MODEL, seen, new)
            except PointerConflict:
                time.sleep(random.uniform(0, 0.02))  # back off, as a re-run deploy would
                continue
            with guard:
                assert seen not in wins, f"two switches both replaced {seen}"
                wins[seen] = new
            target.append_audit(MODEL, record(commit=new.commit, previous=seen and seen.commit))
            return
        raise AssertionError(f"deployer {i} never won")

    def reader() -> int:
        reads = 0
        while not done.is_set():
            pointer = target.current(MODEL)  # a torn pointer would raise TargetError
            assert pointer is not None and pointer.version in {"v0", "v1", "v2"}
            reads += 1
            time.sleep(0.02)
        return reads

    with ThreadPoolExecutor(max_workers=21) as pool:
        watching = pool.submit(reader)
        try:
            for future in [pool.submit(deployer, i) for i in range(20)]:
                future.result()
        finally:
            done.set()
        assert watching.result() > 0
    chain, pointer = 0, start
    while pointer in wins:
        pointer, chain = wins[pointer], chain + 1
    assert chain == 20
    assert target.current(MODEL) == pointer
    assert sorted(r.commit for r in target.audit(MODEL)) == sorted(f"t{i}" for i in range(20))


# --------------------------------------------------------------- audit, lock


def test_audit_keeps_order(target: Target) -> None:
    assert target.audit(MODEL) == []
    assert target.last_audit(MODEL) is None
    records = [record(version=f"v{n}", note="ünïcode") for n in range(12)]
    for item in records:
        target.append_audit(MODEL, item)
    assert target.audit(MODEL) == records
    assert target.last_audit(MODEL) == records[-1]
    assert target.audit("other-model") == []


def test_lock_serializes(target: Target) -> None:
    events: list[str] = []

    def hold(name: str) -> None:
        with target.lock(MODEL):
            events.append(f"{name} in")
            time.sleep(0.2)
            events.append(f"{name} out")

    threads = [threading.Thread(target=hold, args=(name,)) for name in "ab"]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(events) == 4
    assert [e.split()[1] for e in events] == ["in", "out", "in", "out"]
    assert events[0].split()[0] == events[1].split()[0]


def test_lock_times_out_with_a_hint(target: Target) -> None:
    held, release = threading.Event(), threading.Event()

    def holder() -> None:
        with target.lock(MODEL):
            held.set()
            release.wait(10)

    thread = threading.Thread(target=holder)
    thread.start()
    try:
        held.wait(10)
        impatient: Any = target
        impatient.lock_timeout = 0.3
        started = time.monotonic()
        with pytest.raises(TargetError, match="another deploy") as info, target.lock(MODEL):
            pass
        assert time.monotonic() - started < 3
        assert info.value.hint is not None and "wait for" in info.value.hint
    finally:
        release.set()
        thread.join()
    with target.lock(MODEL):  # released: free again
        pass


def test_kinds_match_the_config_registry() -> None:
    assert TARGET_IMPLEMENTATIONS.keys() == TARGET_KINDS.keys()


# ------------------------------------------------------------ directory only


def test_directory_layout(tmp_path: Path) -> None:
    target = open_target(DirectoryConfig(kind="directory", path="deploy/prod"), tmp_path)
    pointer = deployable(target, tmp_path, "v1", "abc")
    target.switch(MODEL, None, pointer)
    target.append_audit(MODEL, record(note="ünïcode"))
    home = tmp_path / "deploy" / "prod" / MODEL
    assert target.describe() == "deploy/prod"
    assert (home / "versions" / "v1" / "model.skops").read_bytes() == b"v1" * 100
    assert json.loads((home / "current.json").read_text()) == {
        "commit": "abc",
        "digest": "dv1",
        "model": MODEL,
        "schema": 1,
        "version": "v1",
    }
    assert (home / "audit.jsonl").read_text(encoding="utf-8") == (
        '{"actor": "Test User <test@example.com>", "commit": "c", "digest": "d", '
        '"env": "staging", "model": "iris-classifier", "note": "ünïcode", "previous": null, '
        '"schema": 1, "time": "2026-01-01T00:00:00.000000+00:00", "version": "v1"}\n'
    )
    assert sorted(p.name for p in (home / "versions").iterdir()) == ["v1"]  # no leftovers


def test_directory_files_are_readable_by_a_server_of_another_user(tmp_path: Path) -> None:
    """Under umask 022 the pointer, the version folders and their files are world-readable
    (they were 0600 and 0700), and a pointer that was 0600 becomes readable on the next
    switch."""
    old = os.umask(0o022)
    try:
        target = DirectoryTarget(tmp_path / "t")
        home = tmp_path / "t" / MODEL
        p1 = deployable(target, tmp_path, "v1")
        target.switch(MODEL, None, p1)
        (home / "current.json").chmod(0o600)  # as the old code wrote it
        target.switch(MODEL, p1, deployable(target, tmp_path, "v2"))
        target.append_audit(MODEL, record())
    finally:
        os.umask(old)
    modes = {
        p.relative_to(home).as_posix(): stat.S_IMODE(p.stat().st_mode)
        for p in sorted(home.rglob("*"))
        if not p.name.startswith(".")
    }
    assert modes == {
        "audit.jsonl": 0o644,
        "current.json": 0o644,
        "versions": 0o755,
        "versions/v1": 0o755,
        "versions/v1/model.skops": 0o644,
        "versions/v2": 0o755,
        "versions/v2/model.skops": 0o644,
    }


def test_directory_crash_leftovers_block_nothing(tmp_path: Path) -> None:
    target = DirectoryTarget(tmp_path / "t")
    home = tmp_path / "t" / MODEL
    build_tree(home, {"versions/.v1.x8f2.tmp/model.skops": b"half", "audit.jsonl": b""})
    first = record(version="v1").to_line()
    (home / "audit.jsonl").write_bytes(first + b'{"n": 2, "ver')  # a crash mid-append
    folder, files = make_source(tmp_path, V1)
    target.upload(MODEL, "v1", folder, files)
    assert target.has_version(MODEL, "v1", files)
    assert target.audit(MODEL) == [record(version="v1")]
    target.append_audit(MODEL, record(version="v3"))
    assert (home / "audit.jsonl").read_bytes() == first + record(version="v3").to_line()


def test_directory_invalid_pointer_is_reported(tmp_path: Path) -> None:
    target = DirectoryTarget(tmp_path / "t")
    build_tree(tmp_path / "t" / MODEL, {"current.json": '{"model": "iris-classifier"'})
    with pytest.raises(TargetError, match=r"current\.json: not a valid pointer") as info:
        target.current(MODEL)
    assert info.value.hint == (
        "restore it from the audit trail (`mlops history`), then run `mlops deploy`"
    )


# ------------------------------------------------------------------- S3 only


def s3_target(endpoint: str, bucket: str = BUCKET, **options: Any) -> S3Target:
    return S3Target(bucket, f"t-{uuid.uuid4().hex[:8]}", endpoint_url=endpoint, **options)


def test_s3_layout(s3_endpoint: str, tmp_path: Path) -> None:
    config = S3Config(kind="s3", url=f"s3://{BUCKET}/teams/ml/", endpoint_url=s3_endpoint)
    target = open_target(config, tmp_path)
    assert target.describe() == f"s3://{BUCKET}/teams/ml"
    model = f"m-{uuid.uuid4().hex[:6]}"
    folder, files = make_source(tmp_path, V1)
    target.upload(model, "v1", folder, files)
    target.switch(model, None, Pointer(model=model, version="v1", digest="d"))
    target.append_audit(model, record(model=model))
    assert isinstance(target, S3Target)
    keys = target.s3.keys(f"teams/ml/{model}/", "list")
    assert keys[1:] == [
        f"teams/ml/{model}/current.json",
        f"teams/ml/{model}/versions/v1/meta/params.json",
        f"teams/ml/{model}/versions/v1/model.skops",
    ]
    assert re.fullmatch(rf"teams/ml/{model}/audit/\d{{8}}T\d{{12}}Z-[0-9a-f]{{32}}\.json", keys[0])


def test_moto_honours_conditional_writes(s3_endpoint: str) -> None:
    client = boto3.client("s3", endpoint_url=s3_endpoint)
    key = f"cond/{uuid.uuid4().hex}"
    etag = client.put_object(Bucket=BUCKET, Key=key, Body=b"1", IfNoneMatch="*")["ETag"]
    for condition in ({"IfNoneMatch": "*"}, {"IfMatch": '"0123456789abcdef"'}):
        with pytest.raises(ClientError) as info:
            client.put_object(Bucket=BUCKET, Key=key, Body=b"2", **condition)
        assert info.value.response["Error"]["Code"] == "PreconditionFailed"
    client.put_object(Bucket=BUCKET, Key=key, Body=b"3", IfMatch=etag)
    assert client.get_object(Bucket=BUCKET, Key=key)["Body"].read() == b"3"


def test_s3_unreachable_endpoint_fails_fast() -> None:
    endpoint = f"http://127.0.0.1:{unused_port()}"  # nothing listens there
    target = S3Target(BUCKET, "p", endpoint_url=endpoint)
    started = time.monotonic()
    with pytest.raises(TargetError) as info:
        target.current(MODEL)
    assert time.monotonic() - started < 10
    message = str(info.value)
    assert message.startswith(
        f"s3://{BUCKET}/p: cannot reach the S3 endpoint {endpoint} to read the pointer: "
        f'Could not connect to the endpoint URL: "{endpoint}/{BUCKET}/p/{MODEL}/current.json"'
    )
    assert "\n" not in message
    assert info.value.hint == (
        "check endpoint_url in mlops.yaml and that the server is up and reachable"
    )


def test_s3_missing_credentials(
    s3_endpoint: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.delenv(name)
    for name in ("AWS_SHARED_CREDENTIALS_FILE", "AWS_CONFIG_FILE"):
        monkeypatch.setenv(name, str(tmp_path / "absent"))
    target = s3_target(s3_endpoint)
    started = time.monotonic()
    with pytest.raises(TargetError) as info:
        target.current(MODEL)
    assert time.monotonic() - started < 10
    assert str(info.value) == f"{target.describe()}: no AWS credentials found to read the pointer"
    assert info.value.hint == (
        "set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (or AWS_PROFILE) in the environment; "
        "in CI, pass them from repository secrets"
    )


def test_s3_missing_bucket_is_named(s3_endpoint: str, tmp_path: Path) -> None:
    target = S3Target("no-such-bucket", "p", endpoint_url=s3_endpoint)
    folder, files = make_source(tmp_path, V1)
    calls: list[Callable[[], object]] = [
        lambda: target.current(MODEL),
        lambda: target.upload(MODEL, "v1", folder, files),
        lambda: target.audit(MODEL),
        lambda: target.switch(MODEL, None, Pointer(model=MODEL, version="v1", digest="d")),
    ]
    for call in calls:
        with pytest.raises(TargetError) as info:
            call()
        assert str(info.value) == (
            f"s3://no-such-bucket/p: bucket 'no-such-bucket' does not exist at {s3_endpoint}"
        )
        assert info.value.hint == (
            "create it (aws s3 mb s3://no-such-bucket) or fix the target url in mlops.yaml"
        )


def lease_body(epoch: float) -> bytes:
    """A lease as another deploy writes it, with its own clock's `epoch`."""
    lease = {"owner": "pid 7 on runner-1", "token": "theirs", "since": "then", "epoch": epoch}
    return json.dumps(lease).encode()


def plant(target: S3Target, body: bytes) -> bytes:
    target.s3.put(target._key(MODEL, "lock"), body, "plant a lease")
    return body


def lease_of(target: S3Target) -> bytes | None:
    key = target._key(MODEL, "lock")
    return None if target.s3.head(key, "check") is None else target.s3.get(key, "read")[0]


def test_s3_stale_lease_is_judged_by_the_servers_clock(s3_endpoint: str) -> None:
    """A lease is stale when the server says its object is older than the TTL, even if
    its writer's clock ran years ahead."""
    target = s3_target(s3_endpoint, lock_timeout=0.3, lease_ttl=1.0)
    plant(target, lease_body(time.time() + 10 * 365 * 86400))
    time.sleep(2.5)  # LastModified and Date have whole seconds: two of them pass
    with target.lock(MODEL):
        held = lease_of(target)
        assert held is not None and json.loads(held)["token"] != "theirs"
    assert lease_of(target) is None  # released


def test_s3_fresh_lease_waits_whatever_its_writers_clock_says(s3_endpoint: str) -> None:
    """Just written, by the server's clock: it is not broken although its body claims
    an hour ago (a writer whose clock is behind)."""
    target = s3_target(s3_endpoint, lock_timeout=0.3)
    body = plant(target, lease_body(time.time() - 3600))
    with pytest.raises(TargetError) as info, target.lock(MODEL):
        pass
    assert str(info.value) == (
        f"{target.describe()}: another deploy holds the lock "
        "(held by pid 7 on runner-1 since then; waited 0.3 s)"
    )
    assert lease_of(target) == body  # the loser left it alone


@pytest.mark.parametrize(
    "body",
    [b"not json {", b"[1, 2]", b'{"owner": "pid 7 on runner-1"}', b'{"epoch": "yesterday"}'],
    ids=["not-json", "not-an-object", "missing-fields", "bad-epoch"],
)
def test_s3_unreadable_lease_counts_as_infinitely_old(s3_endpoint: str, body: bytes) -> None:
    target = s3_target(s3_endpoint, lock_timeout=0.3)
    plant(target, body)
    with target.lock(MODEL):  # broken at once, not waited on, and no KeyError
        held = lease_of(target)
        assert held is not None and json.loads(held)["token"] != "theirs"
    assert lease_of(target) is None


def test_s3_release_leaves_a_lease_taken_over_meanwhile(
    s3_endpoint: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Our lease was broken as stale and another deploy took it just before we delete
    it: the delete is conditional on our ETag, so theirs stays."""
    target = s3_target(s3_endpoint)
    theirs = lease_body(time.time())
    delete = target.s3.delete

    def taken_over_first(key: str, action: str, **conditions: str) -> None:
        plant(target, theirs)  # another deploy, between our decision and our request
        delete(key, action, **conditions)

    with target.lock(MODEL):
        monkeypatch.setattr(target.s3, "delete", taken_over_first)
    assert lease_of(target) == theirs


def test_s3_release_leaves_another_holders_lease(s3_endpoint: str) -> None:
    target = s3_target(s3_endpoint)
    with target.lock(MODEL):
        theirs = plant(target, lease_body(time.time()))  # ours was broken and taken
    assert lease_of(target) == theirs


def test_s3_without_boto3_says_so(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "botocore.exceptions", None)  # as if not installed
    target = S3Target(BUCKET, "p", endpoint_url="http://127.0.0.1:9")
    with pytest.raises(TargetError) as info:
        target.current(MODEL)
    assert str(info.value).startswith(f"s3://{BUCKET}/p: boto3 is not installed (")
    assert info.value.hint == "install it beside mlops-runner: pip install boto3"
