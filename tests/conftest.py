"""Shared fixtures: an isolated HOME and git identity, example projects on disk, and one
trained project per session that the end-to-end tests copy instead of training again."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
from filelock import FileLock

from runner.commands.init import example_files

# The fixtures of the S3 end-to-end modules (`sh` with fake AWS credentials, `s3_endpoint`).
pytest_plugins = ["s3server"]


def build_tree(root: Path, spec: Mapping[str, str | bytes]) -> Path:
    """Write files from a {relative path: content} dict (as copier's tests do)."""
    for rel, content in spec.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")
    return root


def snapshot(root: Path) -> dict[str, bytes]:
    """Every file under `root` with its bytes, to prove a command wrote nothing."""
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and ".git" not in p.parts
    }


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--update-golden",
        action="store_true",
        help="rewrite tests/golden/ from the current output instead of comparing",
    )


# Seconds each long module takes on the CI machine (2 cores, `-n auto`), measured with
# `pytest --junitxml` (the sum of its tests' times); modules not listed count as short.
# Only the order uses them: a stale figure costs some balance, never a result.
MODULE_SECONDS = {
    "test_e2e_s3_kills.py": 92,
    "test_e2e_workflows.py": 86,
    "test_e2e_workflows_sweep.py": 75,
    "test_e2e_promotion.py": 60,
    "test_e2e_run.py": 59,
    "test_e2e_shards.py": 58,
    "test_e2e_custom_stages.py": 38,
    "test_registry_cli.py": 36,
    "test_e2e_dvc_import.py": 35,
    "test_s3_faults.py": 32,
    "test_e2e_s3_faults.py": 31,
    "test_e2e_pipeline.py": 30,
    "test_e2e_serve.py": 28,
    "test_e2e_monitor.py": 25,
    "test_e2e_data.py": 23,
    "test_e2e_reproduce.py": 22,
    "test_e2e_gate.py": 21,
    "test_ci_verbs.py": 21,
    "test_compile_safety.py": 16,
    "test_targets.py": 15,
    "test_e2e_deploy_evidence.py": 14,
    "test_work_once.py": 12,
    "test_runcache_shared.py": 12,
    "test_validate_deep.py": 12,
    "test_e2e_tamper.py": 12,
    "test_e2e_deploy_errors.py": 11,
}


def pytest_configure(config: pytest.Config) -> None:
    # pytest-xdist sends the modules with the most tests first unless told not to; the
    # order below is what keeps both workers busy to the end.
    if hasattr(config.option, "loadscopereorder"):
        config.option.loadscopereorder = False


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Order modules for the workers (`-n auto --dist loadfile`): longest first, so
    neither worker is left with a long module while the other has nothing to do.

    The first module builds the session's trained template; the second is the longest
    one that does not need it, so the other worker does not wait for the template.
    The short modules come last and fill the gaps. Tests keep their order in a module.
    """
    weight: dict[str, float] = {}
    needs_template: dict[str, bool] = {}
    for item in items:
        path = str(item.path)
        weight.setdefault(path, MODULE_SECONDS.get(item.path.name, 0))
        uses = "trained_template" in getattr(item, "fixturenames", ())
        needs_template[path] = needs_template.get(path, False) or uses
    modules = sorted(weight, key=lambda path: -weight[path])  # stable: ties keep their order
    builder = next((m for m in modules if needs_template[m]), None)
    free = next((m for m in modules if not needs_template[m] and weight[m] > 0), None)
    head = [m for m in (builder, free) if m is not None]
    order = {path: index for index, path in enumerate(head + [m for m in modules if m not in head])}
    items.sort(key=lambda item: order[str(item.path)])


@pytest.fixture
def golden(request: pytest.FixtureRequest) -> Callable[[str, str], None]:
    """Compare text with tests/golden/<name>; `pytest --update-golden` refreshes it."""
    update = request.config.getoption("--update-golden")

    def check(name: str, text: str) -> None:
        path = Path(__file__).parent / "golden" / name
        if update:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
        assert path.exists(), f"missing golden file {path}; run pytest --update-golden"
        assert text == path.read_text(encoding="utf-8"), f"{name} differs from its golden file"

    return check


def run_cli(
    *args: str, cwd: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """The real console entry point in a subprocess (`python -m runner`)."""
    return subprocess.run(
        [sys.executable, "-m", "runner", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )


@pytest.fixture(autouse=True)
def _isolate(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / ".config"))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    for var in ("AUTHOR", "COMMITTER"):
        monkeypatch.setenv(f"GIT_{var}_NAME", "Test User")
        monkeypatch.setenv(f"GIT_{var}_EMAIL", "test@example.com")
    monkeypatch.setenv("DVC_NO_ANALYTICS", "1")
    monkeypatch.delenv("GITHUB_ACTIONS", raising=False)


@pytest.fixture
def example(tmp_path: Path) -> Iterator[Path]:
    """A fresh copy of the `mlops init` example project."""
    root = tmp_path / "project"
    build_tree(root, dict(example_files()))
    old = Path.cwd()
    os.chdir(root)
    try:
        yield root
    finally:
        os.chdir(old)


def _env(home: Path) -> dict[str, str]:
    env = {
        **os.environ,
        "HOME": str(home),
        "GIT_CONFIG_NOSYSTEM": "1",
        "DVC_NO_ANALYTICS": "1",
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
        # Fixed dates make commit ids, and so golden reports, reproducible.
        "GIT_AUTHOR_DATE": "2026-01-01T00:00:00+00:00",
        "GIT_COMMITTER_DATE": "2026-01-01T00:00:00+00:00",
    }
    for var in ("AUTHOR", "COMMITTER"):
        env[f"GIT_{var}_NAME"] = "Test User"
        env[f"GIT_{var}_EMAIL"] = "test@example.com"
    return env


def git_commit(sh: Sh, root: Path, message: str) -> None:
    """Commit everything in the work tree."""
    sh("git", "add", "-A", cwd=root)
    sh("git", "commit", "--quiet", "-m", message, cwd=root)


def copy_repos(src: Path, dst: Path) -> Path:
    """Copy a folder of git repositories (work trees with .git and .dvc/cache, bare origins).

    Remotes that point inside `src` (a bare origin next to the work tree) are pointed at their
    copies, so a copy never pushes to the original. Relative DVC remotes (the example's
    `.mlops/storage`) travel with the work tree unchanged.
    """
    shutil.copytree(src, dst, symlinks=True)
    for git_dir in sorted(dst.glob("*/.git")):
        work_tree = git_dir.parent
        for name in _git(work_tree, "remote").split():
            url = _git(work_tree, "remote", "get-url", name).strip()
            if Path(url).is_relative_to(src):
                moved = dst / Path(url).relative_to(src)
                _git(work_tree, "remote", "set-url", name, str(moved))
    return dst


def _git(cwd: Path, *args: str) -> str:
    return subprocess.run(
        ["git", *args], cwd=cwd, capture_output=True, text=True, check=True
    ).stdout


FIRST_RUN = "first-run.json"


def _build_template(base: Path) -> Path:
    """`mlops init`, commit, `mlops compile`, `mlops run`, commit, `dvc push` (with run-cache)."""
    home = base / "home"
    home.mkdir(parents=True)
    sh = Sh(home)
    root = base / "demo"
    sh("mlops", "init", str(root), cwd=base)
    git_commit(sh, root, "the example project")
    sh("mlops", "compile", cwd=root)
    first = sh("mlops", "run", "--format", "json", cwd=root)
    (base / FIRST_RUN).write_text(first.stdout, encoding="utf-8")
    git_commit(sh, root, "train the example")
    sh("dvc", "push", "--run-cache", cwd=root)
    return root


@pytest.fixture(scope="session")
def trained_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The init example, compiled, trained once, committed and pushed to its local DVC remote.

    Built once per test session (once per run under pytest-xdist: the workers share it
    through a file lock). It is read-only: copy it with `copy_repos` or `copy_template`.
    """
    base = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        base = base.parent  # this run's folder, shared by its workers (and no other run)
    base = base / "trained-template"
    with FileLock(f"{base}.lock"):
        if not (base / "done").exists():
            shutil.rmtree(base, ignore_errors=True)
            _build_template(base)
            (base / "done").write_text("", encoding="utf-8")
    return base / "demo"


def template_first_run(template: Path) -> dict[str, Any]:
    """The `mlops run --format json` summary of the template's first, training run."""
    return json.loads((template.parent / FIRST_RUN).read_text(encoding="utf-8"))  # type: ignore[no-any-return]


def copy_template(template: Path, dst: Path) -> Path:
    """A private copy of the trained template's work tree (with .git and .dvc/cache)."""
    dst.parent.mkdir(parents=True, exist_ok=True)
    shutil.copytree(template, dst, symlinks=True)
    return dst


class Sh:
    def __init__(self, home: Path) -> None:
        self.env = _env(home)

    def __call__(
        self, *cmd: str, cwd: Path, check: bool = True
    ) -> subprocess.CompletedProcess[str]:
        proc = subprocess.run(
            list(cmd), cwd=cwd, env=self.env, capture_output=True, text=True, check=False
        )
        if check and proc.returncode != 0:
            raise AssertionError(
                f"{' '.join(cmd)} exited {proc.returncode}\n{proc.stdout}\n{proc.stderr}"
            )
        return proc
