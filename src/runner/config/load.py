"""Find the project, load every YAML file strictly, and run the cross-file checks.

Every file is loaded even when an earlier one is broken, so one run reports
every problem. What comes out is a frozen `Workspace`; nothing below this
module sees raw dicts.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, TypeAdapter, ValidationError

from runner.config.models import Deployments, Pipeline, Project
from runner.errors import ConfigError, Problem, UsageError, did_you_mean
from runner.layout import DEPLOYMENTS_FILE, PIPELINES_DIR, PROJECT_FILE
from runner.yamlio import Document, load_file


# eq=False: hashed by identity, so derived data (its sweep expansion) can be cached.
@dataclass(frozen=True, eq=False)
class PipelineFile:
    name: str
    doc: Document
    model: Pipeline


# eq=False: compared and hashed by identity, so derived data (the stage graph)
# can be cached per workspace.
@dataclass(frozen=True, eq=False)
class Workspace:
    root: Path
    project_doc: Document
    project: Project
    pipelines: dict[str, PipelineFile]
    deployments_doc: Document | None
    deployments: Deployments

    def pipeline(self, name: str) -> PipelineFile:
        """The pipeline called `name`; a usage error with a suggestion otherwise."""
        if name not in self.pipelines:
            raise UsageError(
                f"no pipeline named '{name}'{did_you_mean(name, list(self.pipelines))}",
                f"pipelines: {', '.join(self.pipelines) or 'none'}",
            )
        return self.pipelines[name]


def _validate(
    model: type[BaseModel] | TypeAdapter[Any], doc: Document, problems: list[Problem]
) -> Any:
    try:
        if isinstance(model, TypeAdapter):
            return model.validate_python(doc.data, strict=True)
        return model.model_validate(doc.data)
    except ValidationError as exc:
        from runner.config.diagnose import problems_from  # only needed on errors

        root = Deployments if isinstance(model, TypeAdapter) else model
        problems.extend(problems_from(exc, root, doc, data=doc.data))
        return None


def _load(path: Path, root: Path, problems: list[Problem]) -> Document | None:
    try:
        return load_file(path, path.relative_to(root).as_posix())
    except ConfigError as exc:
        problems.extend(exc.problems)
        return None


def _pipeline_paths(root: Path, problems: list[Problem]) -> list[Path]:
    """The pipeline files: `pipelines/*.yaml`, regular files inside the project.

    Anything else whose name says YAML (`.YAML`, `.yml`, `x.yaml~`, a folder
    `x.yaml/`, a dangling link, a link leaving the project) is a problem, not
    skipped: a pipeline that silently does not run looks like one that passed.
    Other entries (the generated `pipelines/<name>/` folders, a README) are ignored.
    """
    folder = root / PIPELINES_DIR
    if not folder.is_dir():
        problems.append(
            Problem(
                f"{PIPELINES_DIR}/",
                None,
                None,
                f"no {PIPELINES_DIR}/ folder: the project has no pipelines",
                f"add one as {PIPELINES_DIR}/<name>.yaml (`mlops init` writes an example)",
            )
        )
        return []
    found: list[Path] = []
    for path in sorted(folder.iterdir()):
        rel = path.relative_to(root).as_posix()
        lower = path.name.lower()
        if path.name.startswith(".") or not (".yaml" in lower or ".yml" in lower):
            continue
        why, hint = None, f"rename it: git mv {rel} {rel[: -len(path.suffix)]}.yaml"
        if path.suffix.lower() in (".yml", ".yaml") and path.suffix != ".yaml":
            why = "pipeline files must end in .yaml"
        elif path.suffix != ".yaml":
            why = "not a pipeline file: pipeline files end in .yaml"
            hint = f"move it out of {PIPELINES_DIR}/, or rename it to end in .yaml"
        elif path.is_symlink() and not path.exists():
            why, hint = "a symlink to nothing", f"remove it, or point it at a file: rm {rel}"
        elif path.is_symlink() and not path.resolve().is_relative_to(root.resolve()):
            why = "a symlink to a file outside the project"
            hint = "copy the pipeline into the repository, so that review sees it"
        elif not path.is_file():
            why, hint = "not a file", f"pipeline files are plain YAML files; move {rel} away"
        if why is None:
            found.append(path)
        else:
            problems.append(Problem(rel, None, None, why, hint))
    return found


# Cross-file checks, given by the caller (they need the derived stage graph, which
# lives above this package): workspace, complete -> problems.
Checker = Callable[["Workspace", bool], list[Problem]]


def load_workspace(root: Path, *, checker: Checker | None = None) -> Workspace:
    """Load and validate the whole project under `root`; raise ConfigError with every problem.

    `runner.project.workspace.open_workspace` is the usual way in: it passes the
    cross-file checks as `checker`.
    """
    problems: list[Problem] = []
    project_doc = _load(root / PROJECT_FILE, root, problems)
    project = _validate(Project, project_doc, problems) if project_doc else None

    pipelines: dict[str, PipelineFile] = {}
    for path in _pipeline_paths(root, problems):
        doc = _load(path, root, problems)
        model = _validate(Pipeline, doc, problems) if doc else None
        if doc is not None and model is not None:
            pipelines[path.stem] = PipelineFile(path.stem, doc, model)

    deployments_doc = None
    deployments: Deployments = {}
    if (root / DEPLOYMENTS_FILE).exists():
        deployments_doc = _load(root / DEPLOYMENTS_FILE, root, problems)
        if deployments_doc is not None:
            adapter: TypeAdapter[Deployments] = TypeAdapter(Deployments)
            deployments = _validate(adapter, deployments_doc, problems) or {}

    if project_doc is None or project is None:
        raise ConfigError(problems)
    workspace = Workspace(root, project_doc, project, pipelines, deployments_doc, deployments)
    if checker is not None:
        # Check what did load, so one run reports everything; references into
        # files that failed to load are not checked (they would only add noise).
        problems += checker(workspace, not problems)
    if problems:
        raise ConfigError(problems)
    return workspace
