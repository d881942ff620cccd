"""A deployment target in an S3 bucket (or an S3-compatible server: MinIO, moto).

Keys below `<prefix>/<model>/`: `versions/<version>/<files>` written once each
(`If-None-Match: *`, read back and hashed; a version counts as stored only when
the bytes the server returns hash right, never by their `sha256` metadata),
`current.json` switched with a conditional write (`If-Match: <etag>`, so the
compare-and-swap happens on the server), `audit/<utc timestamp>-<uuid>.json`
one immutable object per record, and `lock`, a lease (`s3lease`).
Every write is safe to retry when its reply is lost: the pointer, a lease
and an audit record are read back and recognised as our own.
Credentials come from the environment, as boto3 finds them. boto3 is imported
on first use so that opening the package stays cheap.
"""

from __future__ import annotations

import datetime
import os
import socket
import threading
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager, suppress
from pathlib import Path

from runner.config.targets import TargetConfig
from runner.deploy.targets.base import (
    LOCK_TIMEOUT,
    AuditRecord,
    Pointer,
    PointerConflict,
    TargetError,
    check_name,
    check_relpath,
    source_file,
)
from runner.deploy.targets.s3client import READ_TIMEOUT, Client, Conflict, Missing, Unsent
from runner.deploy.targets.s3lease import LEASE_TTL, Lease
from runner.fsutil import sha256_file


class S3Target:
    """A target kept under `s3://<bucket>/<prefix>`."""

    def __init__(
        self,
        bucket: str,
        prefix: str = "",
        *,
        endpoint_url: str | None = None,
        region: str | None = None,
        lock_timeout: float = LOCK_TIMEOUT,
        lease_ttl: float = LEASE_TTL,
        read_timeout: float = READ_TIMEOUT,
    ):
        self.bucket = bucket
        self.prefix = prefix.strip("/")
        self.lock_timeout = lock_timeout
        self.lease_ttl = lease_ttl
        self.s3 = Client(
            bucket,
            self.describe(),
            endpoint_url=endpoint_url,
            region=region,
            read_timeout=read_timeout,
        )
        self._leases: dict[str, Lease] = {}  # model -> the lease this object holds
        self._clock = threading.Lock()
        self._last_stamp = ""
        self._stored: set[tuple[str, str]] = set()  # versions seen stored (they never change)

    @classmethod
    def from_config(
        cls, config: TargetConfig, root: Path, *, lock_timeout: float = LOCK_TIMEOUT
    ) -> S3Target:
        """Open the target of a `kind: s3` config (`root` is unused: nothing is local)."""
        if config.kind != "s3":
            raise TypeError(f"not an s3 target config: {config!r}")
        bucket, _, prefix = config.url.removeprefix("s3://").partition("/")
        return cls(
            bucket,
            prefix,
            endpoint_url=config.endpoint_url,
            region=config.region,
            lock_timeout=lock_timeout,
            read_timeout=config.timeout,
        )

    def describe(self) -> str:
        return f"s3://{self.bucket}/{self.prefix}" if self.prefix else f"s3://{self.bucket}"

    def _key(self, model: str, *parts: str) -> str:
        head = [self.prefix] if self.prefix else []
        return "/".join([*head, check_name("model", model), *parts])

    def _version_key(self, model: str, version: str, rel: str) -> str:
        return self._key(model, "versions", check_name("version", version), check_relpath(rel))

    # ------------------------------------------------------------- versions

    def has_version(self, model: str, version: str, files: Mapping[str, str]) -> bool:
        # Hash the bytes the server returns: the `sha256` metadata is whatever the writer
        # claimed, so a changed object (or one an attacker wrote first) keeps it intact.
        for rel, sha in files.items():
            if self.s3.sha256(self._version_key(model, version, rel), f"check {rel}") != sha:
                return False
        return True

    def manifest(self, model: str, version: str) -> dict[str, str]:
        prefix = self._key(model, "versions", check_name("version", version)) + "/"
        found: dict[str, str] = {}
        for key in self.s3.keys(prefix, f"list version {version} of {model}"):
            got = self.s3.sha256(key, f"hash {key}")
            if got is not None:  # deleted since the listing: not stored
                found[key.removeprefix(prefix)] = got
        return found

    def upload(self, model: str, version: str, source: Path, files: Mapping[str, str]) -> None:
        if not files:
            raise TargetError(f"{self.describe()}: version {version} of {model} has no files")
        keys = {rel: self._version_key(model, version, rel) for rel in sorted(files)}
        if self.has_version(model, version, files):
            return
        _check_source(source, files)  # before any write: a bad source leaves no key behind
        for rel, key in keys.items():
            try:
                with source_file(source, rel).open("rb") as fh:
                    self.s3.put(key, fh, f"upload {rel}", sha256=files[rel], IfNoneMatch="*")
                ours = True
            except Conflict:
                ours = False  # stored before (a retried deploy): its bytes are checked below
            got = self.s3.sha256(key, f"read back {rel}")
            if got == files[rel]:
                continue
            if ours:  # changed in flight or at the source since it was checked
                self.s3.delete(key, f"remove the bad copy of {rel}")
                raise TargetError(
                    f"{self.describe()}: {rel} read back with sha256 {str(got)[:12]}…, "
                    f"expected {files[rel][:12]}…; the bad copy was removed",
                    "check that nothing rewrites the source while deploying, then run again",
                )
            raise TargetError(
                f"{self.describe()}: version {version} of {model} is already stored with "
                f"different files ({rel}: sha256 {str(got)[:12]}…, expected {files[rel][:12]}…)",
                "versions are immutable: register a new version, or delete the "
                "version's keys by hand if they are known to be bad",
            )
        self._stored.add((model, version))

    def read_file(self, model: str, version: str, relpath: str) -> bytes:
        key = self._version_key(model, version, relpath)
        try:
            return self.s3.get(key, f"read {relpath}")[0]
        except Missing:
            raise TargetError(f"{self.describe()}: {key} does not exist") from None

    # -------------------------------------------------------------- pointer

    def _pointer(self, model: str) -> tuple[Pointer | None, str | None]:
        key = self._key(model, "current.json")
        try:
            body, etag = self.s3.get(key, "read the pointer")
        except Missing:
            return None, None
        return Pointer.parse(body, f"s3://{self.bucket}/{key}"), etag

    def current(self, model: str) -> Pointer | None:
        return self._pointer(model)[0]

    def _require_stored(self, model: str, version: str) -> None:
        if (model, version) in self._stored:
            return
        if not self.s3.any_key(self._key(model, "versions", check_name("version", version)) + "/"):
            raise TargetError(
                f"{self.describe()}: version {version} of {model} is not stored",
                "upload the version before switching to it",
            )
        self._stored.add((model, version))

    def switch(self, model: str, expected: Pointer | None, new: Pointer) -> None:
        if new.model != model:
            raise TargetError(f"{self.describe()}: pointer for {new.model!r} given for {model!r}")
        self._require_stored(model, new.version)
        self._require_lease(model)
        now, etag = self._pointer(model)
        if now == expected:
            condition = {"IfMatch": etag} if etag else {"IfNoneMatch": "*"}
            try:
                self.s3.put(self._key(model, "current.json"), new.to_bytes(), "switch", **condition)
                return
            except (Conflict, Missing):
                # Another deploy won, or ours did with its reply lost (the retry then
                # failed the condition): the pointer says which.
                now = self.current(model)
            except TargetError as exc:
                now = self._after_failed_switch(model, expected, new, exc)
            if now == new:
                return
        raise PointerConflict(
            f"{self.describe()}: {model} now points at {now.version if now else 'nothing'}, "
            f"not {expected.version if expected else 'nothing'}",
            "another deploy changed it first; run `mlops deploy` again to converge",
        )

    def _after_failed_switch(
        self, model: str, expected: Pointer | None, new: Pointer, exc: TargetError
    ) -> Pointer | None:
        """The pointer after a switch whose reply never came: `new` if the write landed;
        the TargetError again (with a hint that it may still land) otherwise."""
        if isinstance(exc, Unsent):
            raise exc  # it never reached the server: nothing moved
        failed = TargetError(
            exc.message,
            "a write that timed out may still land: `mlops status` shows what serves; "
            "run `mlops deploy` again to converge",
        )
        try:
            now = self.current(model)
        except TargetError:
            raise failed from exc
        if now == expected:
            raise failed from exc
        return now

    def _require_lease(self, model: str) -> None:
        lease = self._leases.get(model)
        if lease is not None and lease.lost:
            raise TargetError(
                f"{self.describe()}: this deploy lost the lock of {model} ({lease.lost}); "
                "the pointer was not switched",
                "run `mlops deploy` again; another deploy may be running",
            )

    # ---------------------------------------------------------------- audit

    def _stamp(self) -> str:
        """A UTC timestamp that sorts as text and grows strictly within this process."""
        with self._clock:
            now = datetime.datetime.now(datetime.timezone.utc)
            stamp = now.strftime("%Y%m%dT%H%M%S%fZ")
            if stamp <= self._last_stamp:
                last = datetime.datetime.strptime(self._last_stamp, "%Y%m%dT%H%M%S%fZ")
                stamp = (last + datetime.timedelta(microseconds=1)).strftime("%Y%m%dT%H%M%S%fZ")
            self._last_stamp = stamp
            return stamp

    def append_audit(self, model: str, record: AuditRecord) -> None:
        body = record.to_line()
        key = self._key(model, "audit", f"{self._stamp()}-{uuid.uuid4().hex}.json")
        try:
            self.s3.put(key, body, "append an audit record", IfNoneMatch="*")
            return
        except (Conflict, Missing):
            failure: TargetError | None = None  # the key is new: only our own write can be there
        except TargetError as exc:
            failure = exc  # the write may have landed before the reply was lost
        try:
            stored: bytes | None = self.s3.get(key, "read back the audit record")[0]
        except Missing:
            stored = None
        if stored == body:
            return  # ours, written by the first attempt; its reply was lost
        if failure is not None:
            raise failure
        raise TargetError(
            f"{self.describe()}: s3://{self.bucket}/{key} exists with other content",
            "audit keys are unique per record: something else writes below the audit/ prefix",
        )

    def audit(self, model: str) -> list[AuditRecord]:
        keys = self.s3.keys(self._key(model, "audit") + "/", "list the audit trail")
        return [record for record in map(self._audit_record, keys) if record is not None]

    def last_audit(self, model: str) -> AuditRecord | None:
        # Keys sort by their UTC timestamp: the last one is the newest record, so a long
        # trail costs one listing and one read, not one read per record.
        keys = self.s3.keys(self._key(model, "audit") + "/", "list the audit trail")
        for key in reversed(keys):
            record = self._audit_record(key)
            if record is not None:
                return record
        return None

    def _audit_record(self, key: str) -> AuditRecord | None:
        try:
            raw = self.s3.get(key, "read the audit trail")[0]
        except Missing:
            return None  # deleted by hand since the listing
        return AuditRecord.parse(raw, f"s3://{self.bucket}/{key}")

    # ----------------------------------------------------------------- lock

    @contextmanager
    def lock(self, model: str) -> Iterator[None]:
        owner = f"pid {os.getpid()} on {socket.gethostname()}"
        lease = Lease(self.s3, self._key(model, "lock"), owner, self.lock_timeout, self.lease_ttl)
        lease.acquire()
        self._leases[model] = lease
        try:
            yield
        except BaseException:
            with suppress(TargetError):  # keep the deploy's own error, not the release's
                self._release(model, lease)
            raise
        self._release(model, lease)

    def _release(self, model: str, lease: Lease) -> None:
        self._leases.pop(model, None)
        try:
            lease.release()
        except TargetError as exc:
            raise TargetError(
                f"{exc.message}; the lock stays until it is {self.lease_ttl:g} s old",
                "the next `mlops deploy` waits for it, then breaks it",
            ) from exc


def _check_source(source: Path, files: Mapping[str, str]) -> None:
    for rel in sorted(files):
        path = source_file(source, rel)
        try:
            got = sha256_file(path)
        except OSError as exc:
            raise TargetError(f"cannot read {path}: {exc.strerror or exc}") from exc
        if got != files[rel]:
            raise TargetError(
                f"{path}: sha256 mismatch: expected {files[rel][:12]}…, got {got[:12]}…",
                "the source bytes differ from the manifest; nothing was uploaded",
            )
