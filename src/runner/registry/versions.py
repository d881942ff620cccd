"""Registered model versions: GTO-compatible annotated tags carrying a JSON record.

A version is the annotated tag `<model>@vX.Y.Z` on the commit it was built
from, so `gto show` and `gto history` list the same versions. The tag message
is the version record (`registry.record`). This module is the one place that
parses a version tag, lists versions and resolves `latest`:

- only annotated tags count, as in GTO; lightweight tags are ignored;
- a version is strictly `vMAJOR.MINOR.PATCH` without leading zeros
  (`m@v01.0.0` is not a version of `m`);
- `latest` is the highest version registered from a commit on the main branch
  (`ci.main_branch`): reachable from `origin/<main>` or from `<main>`, so a
  version registered on an unmerged branch is never `latest`.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from runner import git
from runner.errors import UsageError
from runner.registry.record import VersionRecord
from runner.registry.record import parse as parse_record

SEMVER = re.compile(r"^v(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)$")
BUMPS = ("major", "minor", "patch")
# refname, the tag's own type, the commit it peels to, its message, and the signature that
# ends the message of a signed tag (`git tag -s`, or `tag.gpgSign`), which is not the record
_FIELDS = (
    "refname",
    "objecttype",
    "*objectname",
    "*objecttype",
    "contents",
    "contents:signature",
)


@dataclass(frozen=True)
class Version:
    model: str
    version: str  # "v1.2.3"
    tag: str
    commit: str
    message: str

    @property
    def key(self) -> tuple[int, int, int]:
        return parse(self.version)

    @cached_property
    def record(self) -> VersionRecord:
        """The tag's record; a UsageError naming the tag when its message holds none."""
        return parse_record(self.tag, self.message)


def parse(version: str) -> tuple[int, int, int]:
    """(major, minor, patch) of `vX.Y.Z`; UsageError for anything else."""
    match = SEMVER.fullmatch(version)
    if not match:
        raise UsageError(f"'{version}' is not a version", "versions look like v1.2.3")
    return (int(match[1]), int(match[2]), int(match[3]))


def parse_tag(tag: str) -> tuple[str, str] | None:
    """(model, version) of a version tag name `<model>@vX.Y.Z`, or None."""
    model, sep, version = tag.rpartition("@")
    if not sep or not model or not SEMVER.fullmatch(version):
        return None
    return model, version


def bump(last: str | None, part: str) -> str:
    """The version after `last` (v0.1.0 first), bumping `part`: major, minor or patch."""
    if part not in BUMPS:
        raise UsageError(f"cannot bump '{part}'", f"bump one of: {', '.join(BUMPS)}")
    if last is None:
        return "v0.1.0"
    major, minor, patch = parse(last)
    if part == "major":
        return f"v{major + 1}.0.0"
    if part == "minor":
        return f"v{major}.{minor + 1}.0"
    return f"v{major}.{minor}.{patch + 1}"


def list_versions(
    root: Path, model: str | None = None, *, merged: Sequence[str] = ()
) -> list[Version]:
    """Registered versions of `model` (all models when None), oldest first per model.

    One `git for-each-ref` call reads every tag with its message. With `merged`,
    only versions whose commit is reachable from one of those refs.
    """
    pattern = f"refs/tags/{model}@v*" if model is not None else "refs/tags/*@v*"
    out = []
    for refname, kind, commit, peeled_kind, contents, signature in git.for_each_ref(
        root, [pattern], _FIELDS, merged=merged
    ):
        message = contents.removesuffix(signature) if signature else contents
        tag = refname.removeprefix("refs/tags/")
        parsed = parse_tag(tag)
        # GTO ignores lightweight tags (kind "commit") and so do we.
        if kind != "tag" or peeled_kind != "commit" or parsed is None:
            continue
        if model is not None and parsed[0] != model:
            continue
        out.append(Version(parsed[0], parsed[1], tag, commit, message))
    return sorted(out, key=lambda v: (v.model, v.key))


def all_versions(root: Path, model: str) -> list[Version]:
    """Every registered version of `model` on any branch, oldest first."""
    return list_versions(root, model)


def latest(root: Path, model: str, main_branch: str) -> Version | None:
    """The highest version of `model` registered from a commit on the main branch."""
    refs = git.main_refs(root, main_branch)
    if not refs:
        raise UsageError(
            f"cannot tell which versions of {model} are on the main branch: neither "
            f"origin/{main_branch} nor {main_branch} exists",
            f"fetch it (git fetch origin {main_branch}) or set ci.main_branch in mlops.yaml",
        )
    found = list_versions(root, model, merged=refs)
    return found[-1] if found else None


def find(root: Path, model: str, version: str, main_branch: str) -> Version:
    """`version` of `model`, or with "latest" see `latest`; UsageError when there is none."""
    if version == "latest":
        newest = latest(root, model, main_branch)
        if newest is None:
            registered = all_versions(root, model)
            if registered:
                raise UsageError(
                    f"no version of {model} is registered from a commit on {main_branch} "
                    f"(registered on other branches: {', '.join(v.version for v in registered)})",
                    f"merge the branch into {main_branch}, or name the version",
                )
            raise UsageError(
                f"no version of {model} is registered yet", "run `mlops register` first"
            )
        return newest
    return get(root, model, version)


def get(root: Path, model: str, version: str) -> Version:
    """The registered `version` (vX.Y.Z) of `model`; UsageError when it does not exist."""
    versions = all_versions(root, model)
    for item in versions:
        if item.version == version:
            return item
    known = ", ".join(v.version for v in versions) or "none"
    raise UsageError(
        f"{model} {version} is not registered (registered: {known})",
        "fetch tags (git fetch --tags) or register it with `mlops register`",
    )


def create(root: Path, record: VersionRecord) -> str:
    """Create the version tag for `record` on its commit; return the tag name."""
    from runner.registry.record import serialise

    tag = f"{record.model}@{record.version}"
    git.create_tag(root, tag, record.commit, serialise(record))
    return tag


def push_tag(root: Path, tag: str, remote: str = "origin") -> None:
    git.push_tag(root, tag, remote)


def head(root: Path) -> str:
    commit = git.rev_parse(root, "HEAD")
    if commit is None:
        raise UsageError("the repository has no commit yet", "commit the project first")
    return commit


def assign_stage(root: Path, model: str, version: str, env: str) -> str:
    """Project a deployment as GTO's stage tag `<model>#<env>#<N>` on the version's commit.

    `version` is a resolved vX.Y.Z. N is one more than the highest counter among
    the model's tags, as GTO counts.
    """
    found = get(root, model, version)
    counters = [
        int(t.rsplit("#", 1)[1])
        for t in git.tags(root, f"{model}#*")
        if t.count("#") == 2 and t.rsplit("#", 1)[1].isdigit()
    ]
    tag = f"{model}#{env}#{max(counters, default=0) + 1}"
    text = f"Assigning stage {env} to artifact {model} version {version}\n"
    git.create_tag(root, tag, found.commit, text)
    return tag
