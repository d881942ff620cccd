"""End to end: register, deploy, promote, rollback, with a bare origin and a local DVC remote.

Each test starts from its own copy of a named state of one repository (a copy of the
session's trained template with a bare origin), built once per module on first use: the
tests stand alone. After each step, `gto show` must list the registered versions and the
same environment assignments as `mlops status`.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from conftest import Sh, copy_repos, copy_template, git_commit

pytestmark = pytest.mark.slow

MODEL = "iris-classifier"
V2 = ("n_estimators: 100", "n_estimators: 80")


@pytest.fixture(scope="module")
def sh(tmp_path_factory: pytest.TempPathFactory) -> Sh:
    shell = Sh(tmp_path_factory.mktemp("home"))
    # GTO orders stage assignments by tag time: real clocks, not the fixed test dates.
    shell.env.pop("GIT_AUTHOR_DATE")
    shell.env.pop("GIT_COMMITTER_DATE")
    return shell


def _pushed(sh: Sh, base: Path, template: Path) -> None:
    """The trained template with a bare origin that has its main branch."""
    origin = base / "origin.git"
    sh("git", "init", "--quiet", "--bare", "--initial-branch=main", str(origin), cwd=base)
    root = copy_template(template, base / "demo")
    sh("git", "remote", "add", "origin", str(origin), cwd=root)
    sh("git", "push", "--quiet", "-u", "origin", "main", cwd=root)


def _v1(sh: Sh, root: Path) -> None:
    sh("mlops", "register", "iris", "--push", cwd=root)


def _v1_staging(sh: Sh, root: Path) -> None:
    sh("mlops", "deploy", "--env", "staging", "--stage-tags", cwd=root)


def _v1_production(sh: Sh, root: Path) -> None:
    sh("mlops", "promote", MODEL, "--to", "production", cwd=root)
    git_commit(sh, root, "promote v0.1.0 to production")
    sh("mlops", "deploy", "--stage-tags", cwd=root)


def _v2_registered(sh: Sh, root: Path) -> None:
    source = root / "pipelines/iris.yaml"
    source.write_text(source.read_text().replace(*V2))
    sh("mlops", "run", cwd=root)
    git_commit(sh, root, "train v2")
    registered = sh("mlops", "register", "iris", cwd=root).stdout
    assert registered.startswith(f"registered {MODEL} v0.1.1 at "), registered


def _v2_staging(sh: Sh, root: Path) -> None:
    sh("mlops", "deploy", "--env", "staging", "--stage-tags", cwd=root)


# Each state is the one before it plus one step.
STATES: list[tuple[str, Callable[[Sh, Path], None]]] = [
    ("v1", _v1),  # v0.1.0 registered and pushed, nothing deployed
    ("v1-staging", _v1_staging),  # staging serves v0.1.0
    ("v1-production", _v1_production),  # production serves v0.1.0 too
    ("v2-registered", _v2_registered),  # v0.1.1 (80 trees) registered, not deployed
    ("v2-staging", _v2_staging),  # staging serves v0.1.1, production v0.1.0
]


@pytest.fixture(scope="module")
def state(
    trained_template: Path, tmp_path_factory: pytest.TempPathFactory, sh: Sh
) -> Callable[[str, Path], Path]:
    """`state(name, tmp_path)`: a private copy of a named state; returns its work tree."""
    built: dict[str, Path] = {}

    def build(name: str) -> Path:
        if name not in built:
            base = tmp_path_factory.mktemp(f"state-{name}") / "repos"
            if name == "pushed":
                base.mkdir()
                _pushed(sh, base, trained_template)
            else:
                index = [n for n, _ in STATES].index(name)
                copy_repos(build(STATES[index - 1][0] if index else "pushed"), base)
                STATES[index][1](sh, base / "demo")
            built[name] = base
        return built[name]

    def copy(name: str, tmp_path: Path) -> Path:
        return copy_repos(build(name), tmp_path / name) / "demo"

    return copy


def _status(sh: Sh, root: Path) -> dict[str, str]:
    result = sh("mlops", "status", "--format", "json", cwd=root, check=False)
    return {row["env"]: row["actual"] for row in json.loads(result.stdout)}


def _check_gto_matches(sh: Sh, root: Path, versions: list[str]) -> None:
    listed = json.loads(sh("gto", "show", MODEL, "--json", cwd=root).stdout)
    assert sorted(row["version"] for row in listed) == sorted(versions)
    stages = json.loads(sh("gto", "show", "--json", cwd=root).stdout)[MODEL]["stage"]
    served = {env: v for env, v in _status(sh, root).items() if v != "(none)"}
    assert stages == served


def _deployments(root: Path) -> dict[str, dict[str, str]]:
    return yaml.safe_load((root / "deployments.yaml").read_text())  # type: ignore[no-any-return]


def test_register_first_version(state: Callable[[str, Path], Path], sh: Sh, tmp_path: Path) -> None:
    repo = state("pushed", tmp_path)
    out = sh("mlops", "register", "iris", "--push", cwd=repo).stdout
    assert out.startswith(f"registered {MODEL} v0.1.0 at ")
    tags = sh("git", "ls-remote", "--tags", "origin", cwd=repo).stdout
    assert f"refs/tags/{MODEL}@v0.1.0" in tags
    again = sh("mlops", "register", "iris", cwd=repo, check=False)
    assert again.returncode == 1
    assert "is already registered as iris-classifier@v0.1.0" in again.stderr
    _check_gto_matches(sh, repo, ["v0.1.0"])


def test_deploy_staging_follows_latest(
    state: Callable[[str, Path], Path], sh: Sh, tmp_path: Path
) -> None:
    repo = state("v1", tmp_path)
    out = sh("mlops", "deploy", "--env", "staging", "--stage-tags", cwd=repo).stdout
    assert out == f"staging: {MODEL} (none) -> v0.1.0\n"
    served = repo / ".mlops/deploy/staging" / MODEL
    pointer = json.loads((served / "current.json").read_text())
    assert pointer["version"] == "v0.1.0"
    assert (served / "versions/v0.1.0/model.skops").is_file()
    again = sh("mlops", "deploy", "--env", "staging", cwd=repo).stdout
    assert again == f"staging: {MODEL} v0.1.0 already serving; nothing to do\n"
    _check_gto_matches(sh, repo, ["v0.1.0"])


def test_promote_to_production_checks_evidence(
    state: Callable[[str, Path], Path], sh: Sh, tmp_path: Path
) -> None:
    repo = state("v1-staging", tmp_path)
    before = (repo / "deployments.yaml").read_text()
    out = sh("mlops", "promote", MODEL, "--to", "production", cwd=repo).stdout
    assert out.startswith(f"production: {MODEL} (none) -> v0.1.0 in deployments.yaml")
    after = (repo / "deployments.yaml").read_text()
    # Comments survive the edit.
    for line in before.splitlines():
        if line.strip().startswith("#"):
            assert line in after
    assert _deployments(repo)["production"] == {MODEL: "v0.1.0"}
    git_commit(sh, repo, "promote v0.1.0 to production")
    sh("mlops", "deploy", "--stage-tags", cwd=repo)
    assert _status(sh, repo) == {"staging": "v0.1.0", "production": "v0.1.0"}
    _check_gto_matches(sh, repo, ["v0.1.0"])


def test_second_version_promote_and_rollback(
    state: Callable[[str, Path], Path], sh: Sh, tmp_path: Path
) -> None:
    # v0.1.0 serves in staging and production; v0.1.1 (80 trees) was just registered.
    repo = state("v2-registered", tmp_path)
    assert _status(sh, repo) == {"staging": "v0.1.0", "production": "v0.1.0"}
    refused = sh(
        "mlops",
        "promote",
        MODEL,
        "--to",
        "production",
        "--version",
        "v0.1.1",
        cwd=repo,
        check=False,
    )
    assert refused.returncode == 1
    assert "production requires staging, which runs v0.1.1" not in refused.stderr
    assert "staging is meant to run v0.1.1 but serves v0.1.0" in refused.stderr
    sh("mlops", "deploy", "--env", "staging", "--stage-tags", cwd=repo)
    _check_gto_matches(sh, repo, ["v0.1.0", "v0.1.1"])
    sh("mlops", "promote", MODEL, "--to", "production", cwd=repo)
    git_commit(sh, repo, "promote v0.1.1")
    sh("mlops", "deploy", "--stage-tags", cwd=repo)
    assert _status(sh, repo) == {"staging": "v0.1.1", "production": "v0.1.1"}
    _check_gto_matches(sh, repo, ["v0.1.0", "v0.1.1"])
    out = sh("mlops", "rollback", MODEL, "--env", "production", cwd=repo).stdout
    assert out.startswith(f"production: {MODEL} v0.1.1 -> v0.1.0 in deployments.yaml (rollback)")
    drift = sh("mlops", "status", cwd=repo, check=False)
    assert drift.returncode == 1 and "production/iris-classifier should run v0.1.0" in drift.stderr
    git_commit(sh, repo, "roll production back")
    sh("mlops", "deploy", "--stage-tags", cwd=repo)
    assert _status(sh, repo) == {"staging": "v0.1.1", "production": "v0.1.0"}
    _check_gto_matches(sh, repo, ["v0.1.0", "v0.1.1"])
    history = json.loads(sh("mlops", "history", "--format", "json", cwd=repo).stdout)
    kinds = [(e["kind"], e["env"], e["version"]) for e in history["events"]]
    assert ("registered", None, "v0.1.1") in kinds
    assert ("desired", "production", "v0.1.0") in kinds
    deployed = [k for k in kinds if k[0] == "deployed" and k[1] == "production"]
    assert [k[2] for k in deployed] == ["v0.1.0", "v0.1.1", "v0.1.0"]


def _remote_object(repo: Path, name: str) -> Path:
    """Where the local DVC remote keeps a file of the work tree's model (by its md5)."""
    data = (repo / "outputs/iris/train/model" / name).read_bytes()
    md5 = hashlib.md5(data).hexdigest()
    return repo / ".mlops/storage/files/md5" / md5[:2] / md5[2:]


def sh_record(repo: Path, version: str) -> dict[str, object]:
    text = subprocess.run(
        ["git", "tag", "-l", "--format=%(contents)", f"{MODEL}@{version}"],
        cwd=repo,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return json.loads(text.partition("\n\n")[2])  # type: ignore[no-any-return]


def test_flipped_byte_in_the_remote_is_refused(
    state: Callable[[str, Path], Path], sh: Sh, tmp_path: Path
) -> None:
    repo = state("v2-staging", tmp_path)
    # A fresh target that has never stored v0.1.1 must fetch it from the remote.
    obj = _remote_object(repo, "model.skops")
    original = obj.read_bytes()
    obj.chmod(0o644)
    obj.write_bytes(original[:100] + bytes([original[100] ^ 0xFF]) + original[101:])
    try:
        refused = sh(
            "mlops",
            "promote",
            MODEL,
            "--to",
            "production",
            "--version",
            "v0.1.1",
            cwd=repo,
            check=False,
        )
        assert refused.returncode == 1
        assert "sha256 mismatch for model.skops" in refused.stderr
        assert _deployments(repo)["production"] == {MODEL: "v0.1.0"}
        served = repo / ".mlops/deploy/staging" / MODEL
        shutil.rmtree(served / "versions/v0.1.1")
        result = sh("mlops", "deploy", "--env", "staging", cwd=repo, check=False)
        assert result.returncode == 1
        assert "sha256 mismatch for model.skops" in result.stderr
        assert "the previous versions keep serving" in result.stderr
        assert not (served / "versions/v0.1.1").exists()
    finally:
        obj.write_bytes(original)
    sh("mlops", "deploy", "--env", "staging", cwd=repo)
    assert (repo / ".mlops/deploy/staging" / MODEL / "versions/v0.1.1/model.skops").is_file()


_CONCURRENT = """
import sys
from pathlib import Path
from runner.project.workspace import open_workspace as load_workspace
from runner.deploy.reconcile import reconcile
ws = load_workspace(Path(sys.argv[1]))
print(reconcile(ws, "staging", "iris-classifier", sys.argv[2]).action)
"""


def test_twenty_concurrent_deploys_leave_one_valid_version(
    state: Callable[[str, Path], Path], sh: Sh, tmp_path: Path
) -> None:
    repo = state("v2-staging", tmp_path)
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", _CONCURRENT, str(repo), ("v0.1.0", "v0.1.1")[i % 2]],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=sh.env,
        )
        for i in range(20)
    ]
    results = [p.communicate(timeout=300) for p in procs]
    assert all(p.returncode == 0 for p in procs), [r[1] for r in results]
    served = repo / ".mlops/deploy/staging" / MODEL
    pointer = json.loads((served / "current.json").read_text())
    assert pointer["version"] in ("v0.1.0", "v0.1.1")
    record = sh_record(repo, pointer["version"])
    files = record["artifact"]["files"]  # type: ignore[index]
    for rel, digest in files.items():
        data = (served / "versions" / pointer["version"] / rel).read_bytes()
        assert hashlib.sha256(data).hexdigest() == digest
    audit = [json.loads(line) for line in (served / "audit.jsonl").read_text().splitlines()]
    for earlier, later in itertools.pairwise(audit):
        assert later["previous"] in (earlier["version"], None)
    assert audit[-1]["version"] == pointer["version"]
    # Whatever won, the next deploy converges on deployments.yaml (staging: latest).
    sh("mlops", "deploy", "--env", "staging", cwd=repo)
    assert _status(sh, repo)["staging"] == "v0.1.1"


@pytest.mark.parametrize("step", ["fetch", "upload", "switch", "audit"])
def test_crash_at_each_step_keeps_the_old_version_and_converges(
    state: Callable[[str, Path], Path], sh: Sh, tmp_path: Path, step: str
) -> None:
    repo = state("v2-staging", tmp_path)
    served = repo / ".mlops/deploy/production" / MODEL
    before = json.loads((served / "current.json").read_text())["version"]
    target = "v0.1.1"
    assert before == "v0.1.0"
    sh("mlops", "promote", MODEL, "--to", "production", cwd=repo)
    # As for a version this target never stored, so the fetch and upload steps happen.
    shutil.rmtree(served / "versions" / target, ignore_errors=True)
    crashed = subprocess.run(
        ["mlops", "deploy", "--env", "production"],
        cwd=repo,
        env={**sh.env, "MLOPS_TEST_CRASH_AT": step},
        capture_output=True,
        text=True,
        check=False,
    )
    assert crashed.returncode == 75
    pointer = json.loads((served / "current.json").read_text())["version"]
    assert pointer == (target if step == "audit" else before)
    healed = sh("mlops", "deploy", "--env", "production", cwd=repo).stdout
    assert json.loads((served / "current.json").read_text())["version"] == target
    if step == "audit":
        assert "recorded the audit entry an interrupted deploy missed" in healed
    audit = [json.loads(line) for line in (served / "audit.jsonl").read_text().splitlines()]
    assert audit[-1]["version"] == target
    git_commit(sh, repo, f"production runs {target}")
