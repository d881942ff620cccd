"""The deploy lock of an S3 target: a lease object, renewed while held.

A lease is an object created only if absent (`If-None-Match: *`). Its body
names the holder and a random token, so a deploy recognises its own lease even
when the reply to its write was lost (the retry then finds the key taken).
While held, a background thread rewrites it every third of `ttl`
(`If-Match` on its ETag), so a lease stops being renewed within `ttl` of its
holder being killed. A waiter breaks a lease that is stale by the *server's*
clock (the object's LastModified against the Date of the response that read
it; no writer's clock is compared with a reader's), whose body is not a lease
this tool wrote, or whose holder ran on this machine, in this pid namespace
and boot, and no longer exists. Breaking is a conditional write on the stale
lease's ETag, so only one waiter wins. Release deletes the lease only while it
still carries our token.
"""

from __future__ import annotations

import json
import os
import socket
import threading
import time
import uuid
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path

from runner.deploy.targets.base import TargetError
from runner.deploy.targets.s3client import Client, Conflict, Missing, Unsent

LEASE_TTL = 30.0  # seconds a lease lives unless renewed; its holder renews it every ttl / 3


def _read_small(path: str) -> str | None:
    try:
        return Path(path).read_text(encoding="utf-8", errors="replace").strip()
    except OSError:
        return None


def _started(pid: int) -> str | None:
    """When process `pid` started (clock ticks since boot), or None if it does not exist
    or this system has no /proc."""
    stat = _read_small(f"/proc/{pid}/stat")
    if stat is None:
        return None
    fields = stat.rpartition(")")[2].split()
    return fields[19] if len(fields) > 19 else None  # field 22 of proc(5)


def _where() -> dict[str, str]:
    """What makes a pid meaningful: the host, the boot and the pid namespace (empty
    where this system cannot say, and then no lease is judged by its pid)."""
    try:
        namespace = os.readlink("/proc/self/ns/pid")
    except OSError:
        namespace = ""
    return {
        "host": socket.gethostname(),
        "boot": _read_small("/proc/sys/kernel/random/boot_id") or "",
        "pidns": namespace,
    }


@dataclass(frozen=True)
class LeaseHolder:
    """Who holds a lease, as its body says (for messages and for recognising our own,
    never for staleness by time)."""

    owner: str
    since: str
    token: str
    pid: int = 0
    started: str = ""
    where: tuple[tuple[str, str], ...] = ()

    @classmethod
    def parse(cls, body: bytes) -> LeaseHolder | None:
        """The holder, or None when the body is not a lease this tool wrote."""
        try:
            info = json.loads(body)
        except ValueError:
            return None
        if not isinstance(info, dict):
            return None
        owner, since, token = (info.get(name) for name in ("owner", "since", "token"))
        if not (isinstance(owner, str) and isinstance(since, str) and isinstance(token, str)):
            return None
        pid, started = info.get("pid"), info.get("started")
        where = info.get("where")
        if not (isinstance(pid, int) and isinstance(started, str) and isinstance(where, dict)):
            return cls(owner, since, token)  # an older writer: judged by time only
        return cls(owner, since, token, pid, started, tuple(sorted(where.items())))

    def is_dead_here(self) -> bool:
        """Whether the holder ran in this very pid namespace (same host and boot) and
        its process is gone or is another process reusing the pid."""
        here = _where()
        if not self.pid or not all(here.values()) or dict(self.where) != here:
            return False
        return _started(self.pid) != self.started


class Lease:
    """A deploy lock held as an S3 object (see the module's docstring)."""

    def __init__(self, s3: Client, key: str, owner: str, timeout: float, ttl: float = LEASE_TTL):
        self.s3, self.key, self.owner, self.timeout, self.ttl = s3, key, owner, timeout, ttl
        self.token = uuid.uuid4().hex
        self.etag: str | None = None  # of our lease while we hold it
        self.lost: str | None = None  # why we no longer hold it, if the renewer found so
        self.since = ""
        self._stop = threading.Event()
        self._renewer: threading.Thread | None = None

    def _body(self) -> bytes:
        info = {
            "owner": self.owner,
            "token": self.token,
            "since": self.since,
            "pid": os.getpid(),
            "started": _started(os.getpid()) or "",
            "where": _where(),
            "epoch": time.time(),  # only for older versions of this tool
        }
        return json.dumps(info, sort_keys=True).encode()

    def _ours(self) -> str | None:
        """The ETag of the lease if it carries our token (our write landed, whatever
        its reply said), else None. Missing when there is no lease."""
        body, etag = self.s3.get(self.key, "read the deploy lock")
        holder = LeaseHolder.parse(body)
        return etag if holder is not None and holder.token == self.token else None

    def _write(self, action: str, **condition: str) -> bool:
        """One conditional write of our lease; True when the lease is ours after it,
        whatever the reply said (the lease's token tells), False when it is another's.
        A TargetError when the write got no answer and no lease is there, or the lease
        cannot be read back to tell."""
        try:
            self.etag = self.s3.put(self.key, self._body(), action, **condition)
            return True
        except (Conflict, Missing):
            failure: TargetError | None = None  # lost the race, or won it and lost the reply
        except Unsent:
            raise  # the server never saw it
        except TargetError as exc:
            failure = exc  # performed or not: the lease says
        try:
            self.etag = self._ours()
        except Missing:
            self.etag = None
            if failure is not None:
                raise failure from None  # nothing there: the write did not land
            return False
        except TargetError:
            self.etag = None
            if failure is None:
                raise
            raise TargetError(
                f"{failure.message}; if the server performed it, the lease is broken when "
                f"it is {self.ttl:g} s old",
                failure.hint,
            ) from failure
        return self.etag is not None  # False: another deploy's lease

    def acquire(self) -> None:
        """Wait until the lease is ours; TargetError naming the holder on timeout."""
        self.since = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        deadline = time.monotonic() + self.timeout
        delay = 0.05
        while True:
            if self._write("take the deploy lock", IfNoneMatch="*"):
                break
            try:
                held, etag, age = self.s3.get_aged(self.key, "read the deploy lock")
            except Missing:
                continue  # released in between: try again at once
            holder = LeaseHolder.parse(held)
            if holder is None or age > self.ttl or holder.is_dead_here():
                if self._write("break a stale lock", IfMatch=etag):
                    break
                continue  # another waiter broke it first
            left = deadline - time.monotonic()
            if left <= 0:
                raise TargetError(
                    f"{self.s3.where}: another deploy holds the lock "
                    f"(held by {holder.owner} since {holder.since}; "
                    f"waited {self.timeout:g} s)",
                    f"wait for it to finish; a killed deploy's lock is broken when it is "
                    f"{self.ttl:g} s old, or delete s3://{self.s3.bucket}/{self.key}",
                )
            time.sleep(min(delay, left))
            delay = min(delay * 2, 1.0)
        self._stop.clear()
        self._renewer = threading.Thread(target=self._renew, name="lease-renewer", daemon=True)
        self._renewer.start()

    def _renew(self) -> None:
        """Rewrite the lease every ttl / 3 while held; set `lost` when it is not ours."""
        renewed = time.monotonic()
        while not self._stop.wait(self.ttl / 3):
            etag = self.etag
            if etag is None:
                return
            try:
                if self._write("renew the deploy lock", IfMatch=etag):
                    renewed = time.monotonic()
                    continue
                self.lost = "another deploy broke it as stale"
                return
            except TargetError as exc:
                if time.monotonic() - renewed > self.ttl:
                    self.lost = f"it could not be renewed for {self.ttl:g} s: {exc.message}"
                    return

    def release(self) -> None:
        """Stop renewing, then delete the lease if it still carries our token (a
        conditional delete on its ETag: a lease another deploy took over stays)."""
        self._stop.set()
        if self._renewer is not None:
            self._renewer.join()
            self._renewer = None
        if self.etag is None:
            return
        self.etag = None
        try:
            etag = self._ours()
        except Missing:
            return
        if etag is None:
            return  # broken as stale and taken by another deploy
        with suppress(Conflict, Missing):  # taken over, or gone, since the read
            self.s3.delete(self.key, "release the deploy lock", IfMatch=etag)
