"""A real HTTP proxy on 127.0.0.1 that loses replies and delays requests, for S3 tests.

It sits between a client and the moto server (`s3server.moto_server`): every
request is read in full, forwarded upstream on a fresh connection, and its reply
passed back, unless a rule matches. A rule picks requests by method and a regex
on the path (query included) and acts on the Nth match (and the `times - 1`
after it):

- `drop`: forward the request, let the server perform it, then close the
  client's connection without a reply (a reply lost on the way back);
- `cut`: close the connection without forwarding (a request lost on the way);
- `delay`: wait `seconds` before forwarding (a slow server: the client may give
  up while the request is still to be performed), or, with `after=True`, after
  the server answered (the work is done, the reply is late);
- `hold`: stop there, before forwarding or (`after=True`) after the server
  answered, until `release()`, then hang up without a reply: a client killed
  while it waits sees the server in exactly that state. `held` is set when a
  hold begins.

A method of `*` matches every method.

`events` records what each rule did, so a test can check that its fault fired.
"""

from __future__ import annotations

import http.client
import re
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

# Headers that belong to one hop, never forwarded as they are.
_HOP = {"connection", "keep-alive", "transfer-encoding", "expect", "proxy-connection", "te"}


@dataclass
class Rule:
    method: str
    path: re.Pattern[str]
    action: str  # "drop", "cut", "delay" or "hold"
    nth: int = 1
    times: int = 1
    seconds: float = 0.0
    after: bool = False
    matched: int = 0


@dataclass(frozen=True)
class Event:
    method: str
    path: str
    action: str  # "dropped", "cut", "delayed", "held" or "forwarded"


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: object, client_address: object) -> None:
        pass  # a client that gave up on a delayed reply: expected here, not news


class FaultProxy:
    """The proxy; use `fault_proxy(upstream)` to run one."""

    def __init__(self, upstream: str) -> None:
        parts = urlsplit(upstream)
        self.upstream = (parts.hostname or "127.0.0.1", parts.port or 80)
        self.rules: list[Rule] = []
        self.events: list[Event] = []
        self._guard = threading.Lock()
        self.held = threading.Event()
        self._released = threading.Event()
        self._server = _Server(("127.0.0.1", 0), self._handler())
        self.endpoint = f"http://127.0.0.1:{self._server.server_address[1]}"

    # ------------------------------------------------------------------ rules

    def drop_reply(self, method: str, path: str, *, nth: int = 1, times: int = 1) -> None:
        """Perform the Nth matching request (and `times - 1` more), but lose each reply."""
        self._add(Rule(method, re.compile(path), "drop", nth, times))

    def drop_request(self, method: str, path: str, *, nth: int = 1, times: int = 1) -> None:
        """Never forward the Nth matching request (and `times - 1` more): close its
        connection, so the server never sees it."""
        self._add(Rule(method, re.compile(path), "cut", nth, times))

    def delay(
        self,
        method: str,
        path: str,
        seconds: float,
        *,
        nth: int = 1,
        times: int = 1,
        after: bool = False,
    ) -> None:
        """Hold the Nth matching request (and `times - 1` more) for `seconds`, before
        forwarding it or, with `after`, before passing its reply back."""
        self._add(Rule(method, re.compile(path), "delay", nth, times, seconds, after))

    def hold(self, method: str, path: str, *, nth: int = 1, after: bool = False) -> None:
        """Stop at the Nth matching request, before forwarding it or, with `after`, once
        the server performed it, until `release()`; then hang up without a reply."""
        self._add(Rule(method, re.compile(path), "hold", nth, 1, after=after))

    def release(self) -> None:
        """End every hold (each hangs up) and forget the rules."""
        with self._guard:
            released, self._released = self._released, threading.Event()
        released.set()
        self.clear()

    def clear(self) -> None:
        with self._guard:
            self.rules.clear()
            self.events.clear()
            self.held.clear()

    def fired(self, action: str) -> list[Event]:
        """The events where a rule did `action` ("dropped", "cut" or "delayed")."""
        with self._guard:
            return [e for e in self.events if e.action == action]

    def _add(self, rule: Rule) -> None:
        with self._guard:
            self.rules.append(rule)

    def _match(self, method: str, path: str) -> Rule | None:
        with self._guard:
            chosen = None
            for rule in self.rules:
                if rule.method in (method, "*") and rule.path.search(path):
                    rule.matched += 1
                    if chosen is None and rule.nth <= rule.matched < rule.nth + rule.times:
                        chosen = rule
            return chosen

    def _record(self, method: str, path: str, action: str) -> None:
        with self._guard:
            self.events.append(Event(method, path, action))

    # ---------------------------------------------------------------- serving

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, and `Expect: 100-continue` answered

            def log_message(self, format: str, *args: object) -> None:
                pass

            def _body(self) -> bytes:
                if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
                    data = b""
                    while True:
                        size = int(self.rfile.readline().split(b";")[0].strip(), 16)
                        if size == 0:
                            while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                                pass
                            return data
                        data += self.rfile.read(size)
                        self.rfile.readline()
                return self.rfile.read(int(self.headers.get("Content-Length") or 0))

            def _hold(self) -> None:
                proxy._record(self.command, self.path, "held")
                with proxy._guard:
                    released = proxy._released
                proxy.held.set()
                released.wait(120)
                self._hang_up()

            def _hang_up(self) -> None:
                self.close_connection = True
                self.connection.shutdown(socket.SHUT_RDWR)

            def _proxy(self) -> None:
                body = self._body()
                rule = proxy._match(self.command, self.path)
                if rule and rule.action == "cut":
                    proxy._record(self.command, self.path, "cut")
                    self._hang_up()
                    return
                if rule and rule.action == "hold" and not rule.after:
                    self._hold()
                    return
                if rule and rule.action == "delay" and not rule.after:
                    proxy._record(self.command, self.path, "delayed")
                    time.sleep(rule.seconds)
                headers = {k: v for k, v in self.headers.items() if k.lower() not in _HOP}
                if body or self.command in ("PUT", "POST"):
                    headers["Content-Length"] = str(len(body))
                upstream = http.client.HTTPConnection(*proxy.upstream, timeout=60)
                try:
                    upstream.request(self.command, self.path, body=body, headers=headers)
                    reply = upstream.getresponse()
                    data = reply.read()
                    status, reason, got = reply.status, reply.reason, reply.getheaders()
                finally:
                    upstream.close()
                if rule and rule.action == "drop":
                    # The server did the work; the client never hears of it.
                    proxy._record(self.command, self.path, "dropped")
                    self._hang_up()
                    return
                if rule and rule.action == "hold":
                    self._hold()
                    return
                if rule and rule.action == "delay" and rule.after:
                    proxy._record(self.command, self.path, "delayed")
                    time.sleep(rule.seconds)
                if not rule:
                    proxy._record(self.command, self.path, "forwarded")
                self.send_response_only(status, reason)
                for name, value in got:
                    if name.lower() not in _HOP and name.lower() != "content-length":
                        self.send_header(name, value)
                length = dict((k.lower(), v) for k, v in got).get("content-length")
                self.send_header(
                    "Content-Length", (length or "0") if self.command == "HEAD" else str(len(data))
                )
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(data)

            do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = _proxy

        return Handler

    def serve(self) -> threading.Thread:
        thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        thread.start()
        return thread

    def close(self) -> None:
        self.release()
        self._server.shutdown()
        self._server.server_close()


@contextmanager
def fault_proxy(upstream: str) -> Iterator[FaultProxy]:
    """Run a FaultProxy in front of `upstream` (an http:// URL); yield it; stop it."""
    proxy = FaultProxy(upstream)
    thread = proxy.serve()
    try:
        yield proxy
    finally:
        proxy.close()
        thread.join(timeout=5)
