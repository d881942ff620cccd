"""Where everything lives in a project: the one module that knows project paths.

Every path is relative to the project root and uses `/`, as DVC and git write
them. Code that needs a path asks here instead of spelling it out, so that a
change of layout is a change of this file.
"""

from __future__ import annotations

from pathlib import Path

from runner.errors import UsageError

# The files a team writes.
PROJECT_FILE = "mlops.yaml"
PIPELINES_DIR = "pipelines"
DEPLOYMENTS_FILE = "deployments.yaml"

# What `mlops compile` writes for DVC.
ROOT_DVC_YAML = "dvc.yaml"
ROOT_DVC_LOCK = "dvc.lock"
PARAMS_FILE = "params.yaml"
GITIGNORE = ".gitignore"
DVC_CONFIG = ".dvc/config"
# DVC's repository lock (zc.lockfile, an flock): held while `dvc repro` and friends run.
DVC_REPO_LOCK = ".dvc/tmp/lock"
WORKFLOW_DIR = ".github/workflows"

# The tool's own folder: editor schemas, the last run's summary, local deploy targets.
MLOPS_DIR = ".mlops"
SCHEMA_DIR = f"{MLOPS_DIR}/schema"
LAST_RUN = f"{MLOPS_DIR}/last-run.json"
# Written while `mlops compile` commits its files; finished by the next compile if killed.
COMPILE_JOURNAL = f"{MLOPS_DIR}/compile.journal"
# Held (flock) by `mlops run` while DVC reproduces; compile does not rewrite files under it.
RUN_LOCK = f"{MLOPS_DIR}/run.lock"

# What `mlops compile` writes for Kubernetes (one folder per served environment) and
# where `mlops serve` logs predictions unless told otherwise.
KUBERNETES_DIR = "deploy/kubernetes"


def kubernetes_file(env: str) -> str:
    return f"{KUBERNETES_DIR}/{env}/serve.yaml"


def predictions_dir(env: str) -> str:
    return f"{MLOPS_DIR}/predictions/{env}"


# What `mlops monitor --record` appends to (one JSON line per check), and the branch
# mlops-monitor.yml keeps it on (at its root, as MONITOR_BRANCH_FILE), apart from main.
MONITOR_HISTORY = f"{MLOPS_DIR}/monitor/history.jsonl"
MONITOR_BRANCH = "mlops-monitor"
MONITOR_BRANCH_FILE = "history.jsonl"


# What the stages write (DVC outputs).
OUTPUT_ROOT = "outputs"


def pipeline_file(name: str) -> str:
    """The YAML a team writes for pipeline `name`."""
    return f"{PIPELINES_DIR}/{name}.yaml"


def pipeline_dir(name: str) -> str:
    """The folder of pipeline `name`'s compiled DVC files."""
    return f"{PIPELINES_DIR}/{name}"


def pipeline_dvc_yaml(name: str) -> str:
    return f"{pipeline_dir(name)}/dvc.yaml"


def pipeline_dvc_lock(name: str) -> str:
    return f"{pipeline_dir(name)}/dvc.lock"


def steps_file(name: str) -> str:
    """The built-in steps' options of pipeline `name`, tracked per key as DVC params."""
    return f"{pipeline_dir(name)}/steps.yaml"


def stage_dir(pipeline: str, stage: str) -> str:
    """The folder a built-in stage writes its outputs in."""
    return f"{OUTPUT_ROOT}/{pipeline}/{stage}"


def stage_stamp(pipeline: str, stage: str) -> str:
    """The empty file a custom stage without outputs leaves, so the root stage can depend on it."""
    return f"{OUTPUT_ROOT}/{pipeline}/.ran/{stage}"


def manifest_file(pipeline: str) -> str:
    """The digest of a pipeline's final outputs, written by its root `dvc.yaml` stage."""
    return f"{OUTPUT_ROOT}/{pipeline}/manifest.json"


# Where `mlops import` keeps the hand-written DVC files it replaced (dvc.yaml,
# dvc.lock, params.yaml), byte for byte with an `.orig` suffix, so nothing is lost.
IMPORTED_DIR = f"{MLOPS_DIR}/imported"


def imported_copy(rel: str) -> str:
    """Where `mlops import` keeps the team's file `rel` once compile takes its place.

    The `.orig` suffix keeps DVC from reading the copy of a dvc.yaml as a pipeline."""
    return f"{IMPORTED_DIR}/{rel}.orig"


def find_root(start: Path) -> Path:
    """The nearest folder at or above `start` that holds `mlops.yaml`."""
    start = start.resolve()
    for folder in (start, *start.parents):
        if (folder / PROJECT_FILE).is_file():
            return folder
    raise UsageError(
        f"no {PROJECT_FILE} in {start} or any parent folder",
        "run `mlops init` to create a project, or pass --project DIR",
    )


def project_root(project: str | None) -> Path:
    """The project folder from --project, or found upwards from the current folder."""
    if project is None:
        return find_root(Path.cwd())
    try:
        root = Path(project).resolve()
        found = (root / PROJECT_FILE).is_file()
    except (OSError, ValueError) as exc:  # a name over NAME_MAX, a NUL in the path
        why = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise UsageError(
            f"--project: cannot open {project[:80]!r}: {why}",
            "pass the folder that holds mlops.yaml",
        ) from None
    if not found:
        raise UsageError(f"no {PROJECT_FILE} in {root}", "pass the folder that holds mlops.yaml")
    return root
