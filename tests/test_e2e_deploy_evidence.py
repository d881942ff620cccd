"""End to end: `mlops deploy` checks the evidence `mlops promote` checks before it changes
a target, so a hand-edited `deployments.yaml` cannot ship what promote would refuse.

One project per module (a copy of the session's trained template) with two versions of the
same artifact: v0.1.0, and v0.1.1 registered from a later commit that only edits a README.
Staging is pinned to v0.1.0 and serves it; production (`requires: staging`) serves nothing.
Each test works on its own copy.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from conftest import Sh, copy_repos, copy_template, git_commit

pytestmark = pytest.mark.slow

MODEL = "iris-classifier"


@pytest.fixture(scope="module")
def sh(tmp_path_factory: pytest.TempPathFactory) -> Sh:
    return Sh(tmp_path_factory.mktemp("home"))


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory, sh: Sh, trained_template: Path) -> Path:
    folder = tmp_path_factory.mktemp("evidence")
    root = copy_template(trained_template, folder / "demo")
    sh("mlops", "register", "iris", cwd=root)
    write_deployments(root, staging="v0.1.0")
    git_commit(sh, root, "pin staging to v0.1.0")
    sh("mlops", "deploy", "--env", "staging", cwd=root)
    (root / "NOTES.md").write_text("a change that leaves the model as it is\n")
    git_commit(sh, root, "notes")
    sh("mlops", "register", "iris", cwd=root)
    return folder


@pytest.fixture
def repo(base: Path, tmp_path: Path) -> Path:
    return copy_repos(base, tmp_path / "repos") / "demo"


def write_deployments(root: Path, **envs: str) -> None:
    """Edit deployments.yaml by hand: each environment names one version."""
    text = "".join(f"{env}:\n  {MODEL}: {version}\n" for env, version in envs.items())
    (root / "deployments.yaml").write_text(
        text + ("" if "production" in envs else "production: {}\n")
    )


def serving(root: Path, env: str) -> str | None:
    pointer = root / ".mlops/deploy" / env / MODEL / "current.json"
    return json.loads(pointer.read_text())["version"] if pointer.exists() else None


def deploy(sh: Sh, root: Path, env: str) -> tuple[int, str]:
    result = sh("mlops", "deploy", "--env", env, cwd=root, check=False)
    return result.returncode, result.stderr


def test_production_ahead_of_staging_is_refused(repo: Path, sh: Sh) -> None:
    """`production: v0.1.1` by hand while staging runs v0.1.0: promote refuses it, and
    deploy did it anyway."""
    write_deployments(repo, staging="v0.1.0", production="v0.1.1")
    code, stderr = deploy(sh, repo, "production")
    assert code == 1
    assert stderr.startswith(
        f"production: {MODEL}: FAILED: production requires staging, which runs v0.1.0, "
        "not v0.1.1\n  hint: promote v0.1.1 to staging first\n"
    ), stderr
    assert "the previous versions keep serving" in stderr
    assert "Traceback" not in stderr
    assert serving(repo, "production") is None

    # Staging wanting it is not enough while it still serves v0.1.0.
    write_deployments(repo, staging="v0.1.1", production="v0.1.1")
    code, stderr = deploy(sh, repo, "production")
    assert code == 1
    assert "staging is meant to run v0.1.1 but serves v0.1.0" in stderr
    assert serving(repo, "production") is None

    # In order (staging first, then production) the same file deploys.
    sh("mlops", "deploy", cwd=repo)
    assert (serving(repo, "staging"), serving(repo, "production")) == ("v0.1.1", "v0.1.1")


def test_a_version_whose_gate_failed_is_refused(repo: Path, sh: Sh) -> None:
    """A record that says the gate failed (the tag rewritten) must not ship."""
    tag = f"{MODEL}@v0.1.1"
    message = sh("git", "tag", "-l", "--format=%(contents)", tag, cwd=repo).stdout
    summary, _, body = message.partition("\n\n")
    record = json.loads(body)
    record["gate"]["passed"] = False
    text = f"{summary}\n\n{json.dumps(record, indent=2, sort_keys=True)}\n"
    sh("git", "tag", "-f", "-a", tag, "-m", text, record["commit"], cwd=repo)
    write_deployments(repo, staging="v0.1.1")
    code, stderr = deploy(sh, repo, "staging")
    assert code == 1
    assert stderr.startswith(
        f"staging: {MODEL}: FAILED: {tag}: its gate did not pass at {record['commit'][:7]}\n"
    ), stderr
    assert serving(repo, "staging") == "v0.1.0"


def test_a_rollback_to_a_newer_version_is_refused(repo: Path, sh: Sh) -> None:
    """A rollback skips `requires:` only when it moves back: `rollback --to` a newer
    version, or the same line written by hand, is a promotion and needs its evidence."""
    write_deployments(repo, staging="v0.1.0", production="v0.1.0")
    git_commit(sh, repo, "production runs v0.1.0")
    sh("mlops", "deploy", "--env", "production", cwd=repo)
    assert serving(repo, "production") == "v0.1.0"

    command = ("mlops", "rollback", MODEL, "--env", "production", "--to", "v0.1.1")
    refused = sh(*command, cwd=repo, check=False)
    assert refused.returncode == 1
    assert refused.stderr.startswith(
        "error: production requires staging, which runs v0.1.0, not v0.1.1\n"
    ), refused.stderr

    write_deployments(repo, staging="v0.1.0", production="v0.1.1")  # "rollback", by hand
    code, stderr = deploy(sh, repo, "production")
    assert code == 1
    assert "production requires staging, which runs v0.1.0, not v0.1.1" in stderr
    assert serving(repo, "production") == "v0.1.0"


def test_a_real_rollback_skips_requires(repo: Path, sh: Sh) -> None:
    """Moving back to an older version is an emergency: it needs its gate and artifact,
    not the `requires:` environment."""
    write_deployments(repo, staging="v0.1.1", production="v0.1.1")
    sh("mlops", "deploy", cwd=repo)
    git_commit(sh, repo, "both run v0.1.1")
    out = sh("mlops", "rollback", MODEL, "--env", "production", "--to", "v0.1.0", cwd=repo)
    assert "(rollback)" in out.stdout
    sh("mlops", "deploy", "--env", "production", cwd=repo)
    assert (serving(repo, "staging"), serving(repo, "production")) == ("v0.1.1", "v0.1.0")


def audit(root: Path, env: str) -> list[dict[str, str]]:
    lines = (root / ".mlops/deploy" / env / MODEL / "audit.jsonl").read_text().splitlines()
    return [json.loads(line) for line in lines]


def test_a_crash_before_the_audit_record_leaves_no_gap_when_another_version_follows(
    repo: Path, sh: Sh
) -> None:
    """Crash between the pointer switch and the audit record, then deploy another version:
    the version that served in between must still have its record, before the new one."""
    write_deployments(repo, staging="v0.1.1")
    crashed = subprocess.run(
        ["mlops", "deploy", "--env", "staging"],
        cwd=repo,
        env={**sh.env, "MLOPS_TEST_CRASH_AT": "audit"},
        capture_output=True,
        text=True,
        check=False,
    )
    assert crashed.returncode == 75
    assert serving(repo, "staging") == "v0.1.1"
    assert [r["version"] for r in audit(repo, "staging")] == ["v0.1.0"]

    write_deployments(repo, staging="v0.1.0")  # a rollback, not a rerun of the same version
    out = sh("mlops", "deploy", "--env", "staging", cwd=repo).stdout
    assert out == f"staging: {MODEL} v0.1.1 -> v0.1.0\n"
    records = audit(repo, "staging")
    assert [(r["version"], r["previous"]) for r in records] == [
        ("v0.1.0", None),
        ("v0.1.1", "v0.1.0"),
        ("v0.1.0", "v0.1.1"),
    ]
    assert records[1]["note"] == "recorded after an interrupted deploy"
    assert "note" not in records[2] or not records[2]["note"]
    history = json.loads(sh("mlops", "history", "--format", "json", cwd=repo).stdout)
    deployed = [e["version"] for e in history["events"] if e["kind"] == "deployed"]
    assert deployed == ["v0.1.0", "v0.1.1", "v0.1.0"]
