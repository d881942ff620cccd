"""mlops.yaml: the project name, storage remotes and the environments' promotion order."""

from __future__ import annotations

import posixpath
from collections.abc import Mapping
from typing import Any

from runner.config.load import Workspace
from runner.errors import Problem, did_you_mean
from runner.project.checks.names import check_name
from runner.yamlio import Document


def check_project(ws: Workspace) -> list[Problem]:
    """Problems in mlops.yaml on its own."""
    doc, project = ws.project_doc, ws.project
    out = check_name(doc, ("project",), project.project, "project name", key=False)
    if project.storage is not None:
        for name, remote in project.storage.remotes.items():
            out += check_name(doc, ("storage", "remotes", name), name, "remote name")
            why = _remote_url_problem(remote.url, remote.is_relative)
            if why is not None:
                out.append(
                    doc.problem(
                        ("storage", "remotes", name, "url"),
                        f"storage.remotes.{name}.url: {why}",
                        "write the remote's path or URL on its own (percent-encode a '#' "
                        "as %23, a ',' as %2C); .mlops/storage is the usual local remote",
                    )
                )
        default = project.storage.default
        if default not in project.storage.remotes:
            out.append(
                doc.problem(
                    ("storage", "default"),
                    f"storage.default: remote '{default}' is not declared"
                    + did_you_mean(default, list(project.storage.remotes)),
                    f"declare it under storage.remotes, or use one of: "
                    f"{', '.join(project.storage.remotes)}",
                )
            )
    envs = project.environments
    for name, env in envs.items():
        out += check_name(doc, ("environments", name), name, "environment name")
        if env.requires is None:
            continue
        loc = ("environments", name, "requires")
        if env.requires not in envs:
            out.append(
                doc.problem(
                    loc,
                    f"environments.{name}.requires: environment '{env.requires}' is not "
                    f"declared{did_you_mean(env.requires, list(envs))}",
                    f"declared environments: {', '.join(envs)}",
                )
            )
    out += _check_requires_loops(doc, envs)
    return out


def _remote_url_problem(url: str, relative: bool) -> str | None:
    """Why `url` cannot be written into .dvc/config as one remote URL, or None.

    DVC's config is INI, read by configobj: a newline would start new sections (say,
    a cache outside the repository), a '#' or ';' starts a comment that silently cuts
    the URL, surrounding blanks are stripped, so " " would make the project root the
    remote, a ',' turns the value into a list, and a leading quote is taken as quoting.
    """
    if any(ord(c) < 32 or ord(c) == 127 for c in url):
        return "a remote URL may not contain control characters (newline, tab, ...)"
    if url != url.strip():
        return f"remote URL {url!r} starts or ends with a blank"
    if "#" in url or ";" in url:
        return f"remote URL '{url}' contains '#' or ';', which DVC's config reads as a comment"
    if "," in url:
        return f"remote URL '{url}' contains ',', which DVC's config reads as a list"
    if url[:1] in ("'", '"'):
        return f"remote URL {url!r} starts with a quote, which DVC's config strips"
    if relative and posixpath.normpath(url) == ".":
        return f"remote URL '{url}' is the project folder itself"
    return None


def _check_requires_loops(doc: Document, envs: Mapping[str, Any]) -> list[Problem]:
    out: list[Problem] = []
    reported: set[frozenset[str]] = set()
    for start in envs:
        chain = [start]
        current = envs[start].requires
        while current is not None and current in envs:
            if current in chain:
                loop = [*chain[chain.index(current) :], current]
                if frozenset(loop) not in reported and loop[0] == start:
                    reported.add(frozenset(loop))
                    out.append(
                        doc.problem(
                            ("environments", start, "requires"),
                            f"environments.{start}.requires: requires loops back: "
                            + " -> ".join(loop),
                            "the first environment in the promotion order must not have requires:",
                        )
                    )
                break
            chain.append(current)
            current = envs[current].requires
    return out
