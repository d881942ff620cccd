"""Registered model versions: GTO-compatible annotated tags carrying a JSON record.

A version is the annotated tag `<model>@vX.Y.Z` on the commit it was built
from, so `gto show` and `gto history` list the same versions. The tag message
is one summary line, a blank line, then the record as JSON: model, version,
commit, pipeline, the dvc.lock hashes of its stages, params, metrics, gate
verdict, artifact sha256, and when and by whom.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from runner import git, proc
from runner.errors import UsageError

SEMVER = re.compile(r"^v(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)$")


@dataclass(frozen=True)
class Version:
    model: str
    version: str  # "v1.2.3"
    tag: str
    commit: str
    record: dict[str, Any]

    @property
    def key(self) -> tuple[int, int, int]:
        return parse(self.version)


def parse(version: str) -> tuple[int, int, int]:
    match = SEMVER.match(version)
    if not match:
        raise UsageError(f"'{version}' is not a version", "versions look like v1.2.3")
    return (int(match[1]), int(match[2]), int(match[3]))


def bump(last: str | None, part: str) -> str:
    if last is None:
        return "v0.1.0"
    major, minor, patch = parse(last)
    if part == "major":
        return f"v{major + 1}.0.0"
    if part == "minor":
        return f"v{major}.{minor + 1}.0"
    return f"v{major}.{minor}.{patch + 1}"


def message(record: dict[str, Any]) -> str:
    summary = f"Registering artifact {record['model']} version {record['version']}"
    return f"{summary}\n\n{json.dumps(record, indent=2, sort_keys=True)}\n"


def _record(text: str) -> dict[str, Any]:
    _, _, body = text.partition("\n\n")
    try:
        value = json.loads(body)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def all_versions(root: Path, model: str) -> list[Version]:
    """Every registered version of `model`, oldest first."""
    result = proc.run(
        [
            "git",
            "for-each-ref",
            "--format=%(refname:short)%00%(*objectname)%00%(objecttype)",
            f"refs/tags/{model}@v*",
        ],
        cwd=root,
        check=False,
    )
    out = []
    for line in result.stdout.splitlines():
        tag, commit, kind = [*line.split("\0"), "", ""][:3]
        version = tag.split("@", 1)[1]
        if kind != "tag" or not SEMVER.match(version):
            continue  # GTO ignores lightweight tags too
        body = proc.run(["git", "tag", "-l", "--format=%(contents)", tag], cwd=root).stdout
        out.append(Version(model, version, tag, commit, _record(body)))
    return sorted(out, key=lambda v: v.key)


def find(root: Path, model: str, version: str) -> Version:
    """`version` of `model` ("latest" = highest); UsageError when it does not exist."""
    versions = all_versions(root, model)
    if version == "latest":
        if not versions:
            raise UsageError(
                f"no version of {model} is registered yet", "run `mlops register` first"
            )
        return versions[-1]
    for item in versions:
        if item.version == version:
            return item
    known = ", ".join(v.version for v in versions) or "none"
    raise UsageError(
        f"{model} {version} is not registered (registered: {known})",
        "fetch tags (git fetch --tags) or register it with `mlops register`",
    )


def create_tag(root: Path, tag: str, commit: str, text: str) -> None:
    proc.run(["git", "tag", "-a", tag, commit, "-F", "-"], cwd=root, input=text)


def push_tag(root: Path, tag: str, remote: str = "origin") -> None:
    proc.run(["git", "push", "--quiet", remote, f"refs/tags/{tag}"], cwd=root)


def head(root: Path) -> str:
    commit = git.rev_parse(root, "HEAD")
    if commit is None:
        raise UsageError("the repository has no commit yet", "commit the project first")
    return commit


def assign_stage(root: Path, model: str, version: str, env: str) -> str:
    """Project a deployment as GTO's stage tag `<model>#<env>#<N>` on the version's commit.

    N is one more than the highest counter among the model's tags, as GTO counts.
    """
    found = find(root, model, version)
    listed = proc.run(["git", "tag", "--list", f"{model}#*"], cwd=root).stdout.split()
    counters = [
        int(t.rsplit("#", 1)[1])
        for t in listed
        if t.count("#") == 2 and t.rsplit("#", 1)[1].isdigit()
    ]
    tag = f"{model}#{env}#{max(counters, default=0) + 1}"
    text = f"Assigning stage {env} to artifact {model} version {version}\n"
    proc.run(["git", "tag", "-a", tag, found.commit, "-F", "-"], cwd=root, input=text)
    return tag
