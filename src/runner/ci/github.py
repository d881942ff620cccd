"""The GitHub REST calls CI makes: commit statuses and one comment per pipeline.

Standard library HTTP only; the base URL comes from `GITHUB_API_URL`, as GitHub
Actions sets it (a GitHub Enterprise server, or a local stand-in in tests).
"""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any

from runner.errors import CheckFailed, UsageError

# GitHub refuses longer status descriptions.
DESCRIPTION_MAX = 140


@dataclass(frozen=True)
class GitHubApi:
    url: str
    repository: str
    token: str

    @classmethod
    def from_env(cls) -> GitHubApi:
        env = os.environ
        missing = [v for v in ("GITHUB_REPOSITORY", "GITHUB_TOKEN") if not env.get(v)]
        if missing:
            raise UsageError(
                f"{' and '.join(missing)} not set: `mlops ci publish` talks to GitHub",
                "run it in GitHub Actions with `GITHUB_TOKEN: ${{ github.token }}` in the "
                "step's env (the generated mlops-pr.yml does)",
            )
        url = env.get("GITHUB_API_URL") or "https://api.github.com"
        return cls(url.rstrip("/"), env["GITHUB_REPOSITORY"], env["GITHUB_TOKEN"])

    def _call(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(
            f"{self.url}/repos/{self.repository}{path}",
            data=data,
            method=method,
            headers={
                "Accept": "application/vnd.github+json",
                "Authorization": f"Bearer {self.token}",
                "X-GitHub-Api-Version": "2022-11-28",
                "Content-Type": "application/json",
            },
        )
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                text = response.read().decode("utf-8")
        except urllib.error.HTTPError as exc:
            raise CheckFailed(
                f"GitHub API: {method} {path}: HTTP {exc.code} {exc.reason}",
                "a pull request from a fork gets a read-only token: a maintainer must run it "
                "(docs/workflows.md, 'Pull requests from forks'); otherwise check the job's "
                "permissions",
            ) from None
        except OSError as exc:
            raise CheckFailed(f"GitHub API: {method} {path}: {exc}", "retry the job") from None
        return json.loads(text) if text else None

    def set_status(self, sha: str, context: str, state: str, description: str, url: str) -> None:
        """A commit status; `state` is success, failure, error or pending."""
        if len(description) > DESCRIPTION_MAX:
            description = description[: DESCRIPTION_MAX - 1] + "…"
        body = {"state": state, "context": context, "description": description}
        if url:
            body["target_url"] = url
        self._call("POST", f"/statuses/{sha}", body)

    def upsert_comment(self, number: int, marker: str, body: str) -> str:
        """Update the comment that starts with `marker`, else create it: 'updated'/'created'."""
        page = 1
        while True:
            comments = self._call("GET", f"/issues/{number}/comments?per_page=100&page={page}")
            for comment in comments or []:
                if str(comment.get("body", "")).startswith(marker):
                    self._call("PATCH", f"/issues/comments/{comment['id']}", {"body": body})
                    return "updated"
            if not comments or len(comments) < 100:
                break
            page += 1
        self._call("POST", f"/issues/{number}/comments", {"body": body})
        return "created"
