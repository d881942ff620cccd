"""Version tags between the job that registers and the job that pushes.

The release job runs the pipeline, so it gets no token that can write the
repository: it registers (the annotated tag is created in its clone) and writes
the tag alone into a git bundle. The tag job runs no pipeline code: it reads the
bundles, accepts only version tags of this project's models that name the commit
the workflow runs for, and pushes them.
"""

from __future__ import annotations

from pathlib import Path

from runner import git
from runner.config.load import Workspace
from runner.errors import CheckFailed, ExternalCommandError
from runner.registry import versions

BUNDLE_SUFFIX = ".bundle"


def bundle(ws: Workspace, pipeline: str, dest: Path) -> tuple[str, Path]:
    """Write the version tag registered for HEAD of `pipeline`'s model into `dest`."""
    pfile = ws.pipeline(pipeline)
    deploy = pfile.model.deploy
    if deploy is None:
        raise CheckFailed(
            f"pipeline {pipeline} deploys no model, so it has no version tag",
            f"add deploy: to pipelines/{pipeline}.yaml",
        )
    head = versions.head(ws.root)
    found = [v for v in versions.all_versions(ws.root, deploy.model) if v.commit == head]
    if not found:
        raise CheckFailed(
            f"no version of {deploy.model} is registered at {head[:7]}",
            f"run `mlops register {pipeline}` first",
        )
    tag = found[-1].tag
    dest.mkdir(parents=True, exist_ok=True)
    path = dest / f"{pipeline}{BUNDLE_SUFFIX}"
    path.unlink(missing_ok=True)
    git.bundle_tag(ws.root, tag, path)
    return tag, path


def push_tags(ws: Workspace, source: Path) -> list[str]:
    """Fetch the version tags from the bundles in `source` and push them to origin."""
    models = {p.model.deploy.model for p in ws.pipelines.values() if p.model.deploy}
    head = versions.head(ws.root)
    bundles = sorted(source.glob(f"*{BUNDLE_SUFFIX}")) if source.is_dir() else []
    if not bundles:
        raise CheckFailed(
            f"no version tag to push: {source} holds no *{BUNDLE_SUFFIX}",
            "the release jobs failed before they registered: see their logs",
        )
    pushed = []
    for path in bundles:
        try:
            tags = git.bundle_tags(ws.root, path)
        except ExternalCommandError as exc:
            why = exc.cause
            raise CheckFailed(f"{path.name}: not a bundle of a version tag: {why}", _HINT) from None
        for tag in tags:
            parsed = versions.parse_tag(tag)
            if parsed is None or parsed[0] not in models:
                raise CheckFailed(
                    f"{path.name}: {tag} is not a version of this project's models", _HINT
                )
            if git.rev_parse(ws.root, f"refs/tags/{tag}") is None:
                git.fetch_bundle_tag(ws.root, path, tag)
            commit = git.rev_parse(ws.root, f"refs/tags/{tag}")
            if commit != head:
                raise CheckFailed(
                    f"{path.name}: {tag} names {str(commit)[:7]}, not {head[:7]}, the commit "
                    "this workflow runs for",
                    _HINT,
                )
            versions.push_tag(ws.root, tag)
            pushed.append(tag)
    return pushed


_HINT = "the tag job pushes only what the release jobs of this run registered"
