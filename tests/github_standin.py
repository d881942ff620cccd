"""A stand-in for the GitHub REST API on 127.0.0.1: records calls, keeps comments and statuses.

Answers the calls `runner.ci.github` makes (commit statuses, listing, creating and
updating issue comments) for the repository REPOSITORY, and checks the token.
"""

from __future__ import annotations

import json
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

REPOSITORY = "team/models"
TOKEN = "ghs_test_token"


class GitHub:
    """A stand-in for the GitHub REST API: records calls, keeps comments and statuses."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str, Any]] = []
        self.comments: dict[int, dict[str, Any]] = {}
        self.statuses: list[dict[str, Any]] = []
        self.lock = threading.Lock()
        github = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def _reply(self, code: int, body: Any) -> None:
                data = json.dumps(body).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length)) if length else None
                assert self.headers["Authorization"] == f"Bearer {TOKEN}"
                code, answer = github.handle(self.command, self.path, body)
                self._reply(code, answer)

            do_GET = do_POST = do_PATCH = _handle

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def handle(self, method: str, path: str, body: Any) -> tuple[int, Any]:
        prefix = f"/repos/{REPOSITORY}"
        assert path.startswith(prefix), path
        path = path.removeprefix(prefix)
        with self.lock:
            self.calls.append((method, path, body))
            if method == "POST" and path.startswith("/statuses/"):
                self.statuses.append({"sha": path.split("/")[-1], **body})
                return 201, body
            found = re.fullmatch(r"/issues/(\d+)/comments(\?.*)?", path)
            if found and method == "GET":
                number = int(found[1])
                mine = [c for c in self.comments.values() if c["issue"] == number]
                return 200, [{"id": c["id"], "body": c["body"]} for c in mine]
            if found and method == "POST":
                comment_id = len(self.comments) + 1
                self.comments[comment_id] = {
                    "id": comment_id,
                    "issue": int(found[1]),
                    "body": body["body"],
                    "edits": 0,
                }
                return 201, {"id": comment_id}
            found = re.fullmatch(r"/issues/comments/(\d+)", path)
            if found and method == "PATCH":
                comment = self.comments[int(found[1])]
                comment["body"] = body["body"]
                comment["edits"] += 1
                return 200, {"id": comment["id"]}
        return 404, {"message": "Not Found"}

    def status(self, sha: str, context: str) -> dict[str, Any]:
        found = [s for s in self.statuses if s["sha"] == sha and s["context"] == context]
        assert found, (sha, context, self.statuses)
        return found[-1]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
