"""`mlops init [DIR]`: write a working example project."""

from __future__ import annotations

import sys
from importlib import resources
from pathlib import Path

from runner.config.schemas import FILES, dumps, schema
from runner.errors import UsageError
from runner.fsutil import write_all
from runner.layout import DEPLOYMENTS_FILE, GITIGNORE, PROJECT_FILE, SCHEMA_DIR, pipeline_file

# Template name -> path in the new project.
TEMPLATES = {
    "mlops.yaml": PROJECT_FILE,
    "pipelines/iris.yaml": pipeline_file("iris"),
    "deployments.yaml": DEPLOYMENTS_FILE,
    "gitignore": GITIGNORE,
}


def example_files() -> list[tuple[str, str]]:
    """(relative path, text) of every file `mlops init` writes."""
    base = resources.files("runner") / "templates" / "init"
    files = [(dest, (base / src).read_text("utf-8")) for src, dest in TEMPLATES.items()]
    files += [(f"{SCHEMA_DIR}/{FILES[k][0]}", dumps(schema(k))) for k in FILES]
    return files


def run(*, directory: str, force: bool) -> int:
    root = Path(directory)
    try:
        exists = root.exists()
    except (OSError, ValueError) as exc:  # a name over NAME_MAX, a NUL
        why = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise UsageError(f"cannot use {directory[:80]!r}: {why}", "choose another DIR") from None
    if exists and not root.is_dir():
        raise UsageError(f"{root} exists and is not a folder", "choose another DIR")
    files = [
        (rel, _merged_gitignore(root / rel, text) if rel == GITIGNORE else text)
        for rel, text in example_files()
    ]
    # An existing .gitignore is merged (the team's lines kept), never a clash.
    clashes = [rel for rel, _ in files if rel != GITIGNORE and (root / rel).exists()]
    if clashes and not force:
        raise UsageError(
            f"{root / clashes[0]} already exists"
            + (f" (and {len(clashes) - 1} more)" if len(clashes) > 1 else ""),
            "run in an empty folder, or pass --force to overwrite the example files",
        )
    try:
        write_all([(root / rel, text) for rel, text in files])
    except (OSError, ValueError) as exc:  # /proc/x, a read-only disk, a name over NAME_MAX
        why = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise UsageError(
            f"cannot create the example project in {root}: {why}",
            "choose a folder you can write to",
        ) from None
    for note in _init_repositories(root.resolve()):
        sys.stdout.write(note + "\n")
    sys.stdout.write(
        f"created an example project in {root}\nnext: cd {root} && mlops compile && mlops run\n"
    )
    return 0


def _merged_gitignore(path: Path, template: str) -> str:
    """The team's .gitignore with the example's lines it lacks appended."""
    try:
        current = path.read_text("utf-8")
    except FileNotFoundError:
        return template
    have = {line.strip() for line in current.splitlines()}
    missing = [line for line in template.splitlines() if line.strip() not in have]
    if not [line for line in missing if line.strip() and not line.startswith("#")]:
        return current
    sep = "" if not current or current.endswith("\n") else "\n"
    return current + sep + "\n".join(missing) + "\n"


def _init_repositories(root: Path) -> list[str]:
    """Make `root` a git work tree with DVC initialised, unless it already is."""
    from runner import git, proc

    notes = []
    top = git.toplevel(root)
    if top is None:
        git.init(root)
        notes.append(f"initialised a git repository in {root}")
        top = root
    if not (root / ".dvc").is_dir():
        subdir = ["--subdir"] if top != root else []
        proc.run(proc.dvc_cmd("init", "--quiet", *subdir), cwd=root)
        notes.append("initialised DVC (.dvc/)")
    return notes
