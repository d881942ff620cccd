"""The registry's one parser, lister and resolver of version tags, on real git repositories.

Tags are crafted with git directly (no training): what is under test is which
tags count as versions, which one `latest` is, and how a bad record is refused.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from runner import git
from runner.commands.init import example_files
from runner.deploy import promotion
from runner.errors import UsageError
from runner.gates import baseline
from runner.project.workspace import open_workspace
from runner.registry import versions
from runner.registry.record import (
    ArtifactInfo,
    GateSummary,
    VersionRecord,
    parse,
    serialise,
)

from conftest import build_tree, run_cli

MODEL = "iris-classifier"


def sh(root: Path, *args: str, input: str | bytes | None = None) -> str:
    result = subprocess.run(
        ["git", *args],
        cwd=root,
        input=input.encode() if isinstance(input, str) else input,
        capture_output=True,
        check=True,
    )
    return result.stdout.decode()


def commit(root: Path, message: str) -> str:
    sh(root, "commit", "--quiet", "--allow-empty", "-m", message)
    return sh(root, "rev-parse", "HEAD").strip()


def record(version: str, commit: str, model: str = MODEL) -> VersionRecord:
    return VersionRecord(
        model=model,
        version=version,
        commit=commit,
        pipeline="iris",
        stages={"train": {"deps": {"data.csv": "abc"}, "outs": {"model": None}}},
        params={"n_estimators": 100},
        metrics={"accuracy": 0.95},
        gate=GateSummary(passed=True, baseline="none", checks=[]),
        artifact=ArtifactInfo(path="outputs/iris/train/model", digest="d" * 64, files={}),
        created_at="2026-01-01T00:00:00+00:00",
        created_by="Test User <test@example.com>",
    )


def tag(
    root: Path,
    name: str,
    *,
    at: str = "HEAD",
    annotated: bool = True,
    message: str | bytes | None = None,
) -> None:
    """`name` on `at`: annotated with a version record (or `message`), or lightweight."""
    if not annotated:
        sh(root, "tag", name, at)
        return
    if message is None:
        model, _, version = name.rpartition("@")
        message = serialise(record(version, sh(root, "rev-parse", at).strip(), model))
    sh(root, "tag", "-a", name, at, "-F", "-", input=message)


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """The example project, committed on main; no version registered."""
    root = build_tree(tmp_path / "project", dict(example_files()))
    sh(root, "init", "--quiet", "--initial-branch=main")
    sh(root, "add", "-A")
    commit(root, "init")
    return root


# ------------------------------------------------------------------ parse and bump


@pytest.mark.parametrize(
    ("tag_name", "parsed"),
    [
        ("m@v0.1.0", ("m", "v0.1.0")),
        ("m@v10.20.30", ("m", "v10.20.30")),
        ("a@b@v1.0.0", ("a@b", "v1.0.0")),
        ("m@v01.0.0", None),  # leading zeros are not semver
        ("m@v0.01.0", None),
        ("m@v1.2", None),
        ("m@1.2.3", None),
        ("m@v1.2.3-rc1", None),
        ("m@v1.2.3.4", None),
        ("@v1.0.0", None),
        ("m#staging#1", None),
        ("m", None),
    ],
)
def test_parse_tag(tag_name: str, parsed: tuple[str, str] | None) -> None:
    assert versions.parse_tag(tag_name) == parsed


@pytest.mark.parametrize(
    ("last", "part", "expected"),
    [
        (None, "patch", "v0.1.0"),
        (None, "major", "v0.1.0"),
        ("v0.1.0", "patch", "v0.1.1"),
        ("v0.1.9", "patch", "v0.1.10"),
        ("v0.1.3", "minor", "v0.2.0"),
        ("v1.2.3", "major", "v2.0.0"),
        ("v1.9.9", "minor", "v1.10.0"),
    ],
)
def test_bump(last: str | None, part: str, expected: str) -> None:
    assert versions.bump(last, part) == expected


@pytest.mark.parametrize(
    ("last", "part", "message"),
    [
        ("v0.1.0", "micro", "cannot bump 'micro'"),
        ("v01.0.0", "patch", "'v01.0.0' is not a version"),
        ("1.0.0", "patch", "'1.0.0' is not a version"),
    ],
)
def test_bump_refuses(last: str, part: str, message: str) -> None:
    with pytest.raises(UsageError) as err:
        versions.bump(last, part)
    assert err.value.message == message


# ------------------------------------------------------------------ listing


def test_only_annotated_strict_semver_tags_are_versions(repo: Path) -> None:
    tag(repo, f"{MODEL}@v0.1.0")
    commit(repo, "two")
    tag(repo, f"{MODEL}@v0.2.0", annotated=False)  # lightweight: GTO ignores it
    tag(repo, f"{MODEL}@v01.0.0")  # not semver
    tag(repo, f"{MODEL}@v0.3")
    tag(repo, f"{MODEL}-other@v9.0.0")  # another model whose name starts the same
    assert [v.tag for v in versions.all_versions(repo, MODEL)] == [f"{MODEL}@v0.1.0"]
    assert versions.find(repo, MODEL, "latest", "main").version == "v0.1.0"
    with pytest.raises(UsageError) as err:
        versions.find(repo, MODEL, "v0.2.0", "main")
    assert err.value.message == f"{MODEL} v0.2.0 is not registered (registered: v0.1.0)"


def test_gate_baseline_and_promotion_resolve_latest_alike(repo: Path) -> None:
    """The issue's case: the gate picked m@v01.0.0, deploy/promote picked m@v0.1.0."""
    first = sh(repo, "rev-parse", "HEAD").strip()
    tag(repo, f"{MODEL}@v0.1.0")
    commit(repo, "two")
    tag(repo, f"{MODEL}@v0.2.0", annotated=False)
    commit(repo, "three")
    tag(repo, f"{MODEL}@v01.0.0")
    ws = open_workspace(repo)
    assert ws.deployments["staging"][MODEL] == "latest"
    chosen = promotion.desired(ws, "staging", MODEL)
    assert chosen is not None and chosen.version == "v0.1.0"
    base = baseline.resolve(ws, ws.pipelines["iris"], "staging", [])
    assert base.label == f"staging: {MODEL} v0.1.0 ({first[:7]})"
    assert base.commit == first


def test_listing_is_one_git_call(
    repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for i in range(5):
        commit(repo, f"c{i}")
        tag(repo, f"{MODEL}@v0.{i}.0")
    trace = tmp_path / "trace.txt"
    monkeypatch.setenv("GIT_TRACE", str(trace))
    found = versions.all_versions(repo, MODEL)
    assert [v.version for v in found] == [f"v0.{i}.0" for i in range(5)]
    assert [v.record.version for v in found] == [v.version for v in found]
    calls = [line for line in trace.read_text().splitlines() if "trace: built-in: git" in line]
    assert len(calls) == 1 and "for-each-ref" in calls[0]


def test_all_models_in_one_listing(repo: Path) -> None:
    tag(repo, f"{MODEL}@v0.1.0")
    tag(repo, "other@v1.0.0")
    tag(repo, "other@v0.9.0")
    assert [v.tag for v in versions.list_versions(repo)] == [
        f"{MODEL}@v0.1.0",
        "other@v0.9.0",
        "other@v1.0.0",
    ]


def test_a_signed_tag_is_a_version(repo: Path, tmp_path: Path) -> None:
    """A signed tag's message ends with its signature, which is not part of the record
    (it broke the record's JSON: signed version tags were refused)."""
    key = tmp_path / "key"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)], check=True)
    for name, value in (("tag.gpgSign", "true"), ("gpg.format", "ssh")):
        sh(repo, "config", name, value)
    sh(repo, "config", "user.signingKey", f"{key}.pub")
    tag(repo, f"{MODEL}@v0.1.0")
    raw = sh(repo, "cat-file", "tag", f"{MODEL}@v0.1.0")
    assert "-----BEGIN SSH SIGNATURE-----" in raw
    allowed = tmp_path / "allowed"
    allowed.write_text(f"test@example.com {(tmp_path / 'key.pub').read_text()}")
    sh(repo, "-c", f"gpg.ssh.allowedSignersFile={allowed}", "verify-tag", f"{MODEL}@v0.1.0")
    (found,) = versions.all_versions(repo, MODEL)
    assert found.record == parse(found.tag, serialise(found.record))
    assert found.record.version == "v0.1.0"
    assert "SIGNATURE" not in found.message


# ------------------------------------------------------------------ latest follows main


def test_version_on_a_side_branch_is_not_latest(repo: Path) -> None:
    tag(repo, f"{MODEL}@v0.1.0")
    sh(repo, "switch", "--quiet", "-c", "feature")
    commit(repo, "experiment")
    tag(repo, f"{MODEL}@v0.2.0")
    # Resolved from the feature branch's checkout too: main decides, not HEAD.
    assert versions.find(repo, MODEL, "latest", "main").version == "v0.1.0"
    ws = open_workspace(repo)
    chosen = promotion.desired(ws, "staging", MODEL)
    assert chosen is not None and chosen.version == "v0.1.0"
    assert baseline.resolve(ws, ws.pipelines["iris"], "staging", []).label.startswith(
        f"staging: {MODEL} v0.1.0 "
    )
    # Named explicitly, a side-branch version still resolves.
    assert versions.find(repo, MODEL, "v0.2.0", "main").version == "v0.2.0"
    sh(repo, "switch", "--quiet", "main")
    sh(repo, "merge", "--quiet", "--no-ff", "-m", "merge", "feature")
    assert versions.find(repo, MODEL, "latest", "main").version == "v0.2.0"


def test_latest_counts_origin_main(repo: Path) -> None:
    tag(repo, f"{MODEL}@v0.1.0")
    sh(repo, "switch", "--quiet", "-c", "feature")
    ahead = commit(repo, "merged on the server")
    tag(repo, f"{MODEL}@v0.2.0")
    sh(repo, "switch", "--quiet", "main")
    assert versions.find(repo, MODEL, "latest", "main").version == "v0.1.0"
    # As after `git fetch`, when the server's main has the commit and the local main lags.
    sh(repo, "update-ref", "refs/remotes/origin/main", ahead)
    assert versions.find(repo, MODEL, "latest", "main").version == "v0.2.0"


def test_latest_with_nothing_on_main(repo: Path) -> None:
    sh(repo, "switch", "--quiet", "-c", "feature")
    commit(repo, "experiment")
    tag(repo, f"{MODEL}@v0.1.0")
    with pytest.raises(UsageError) as err:
        versions.find(repo, MODEL, "latest", "main")
    assert err.value.message == (
        f"no version of {MODEL} is registered from a commit on main "
        "(registered on other branches: v0.1.0)"
    )
    ws = open_workspace(repo)
    base = baseline.resolve(ws, ws.pipelines["iris"], "staging", [])
    assert (base.metrics, base.broken) == (None, False)
    assert base.reason == f"no version of {MODEL} is registered from main yet"


def test_latest_without_a_main_branch(repo: Path) -> None:
    tag(repo, f"{MODEL}@v0.1.0")
    with pytest.raises(UsageError) as err:
        versions.find(repo, MODEL, "latest", "trunk")
    assert err.value.message == (
        f"cannot tell which versions of {MODEL} are on the main branch: neither "
        "origin/trunk nor trunk exists"
    )
    assert err.value.hint == (
        "fetch it (git fetch origin trunk) or set ci.main_branch in mlops.yaml"
    )


def test_no_version_registered(repo: Path) -> None:
    with pytest.raises(UsageError) as err:
        versions.find(repo, MODEL, "latest", "main")
    assert err.value.message == f"no version of {MODEL} is registered yet"


# ------------------------------------------------------------------ the record


def test_record_round_trip_keeps_the_old_bytes() -> None:
    """The JSON is what register wrote before the record was typed, plus `schema`."""
    old = {
        "artifact": {"digest": "d" * 64, "files": {"model.skops": "e" * 64}, "path": "out/m"},
        "commit": "c" * 40,
        "created_at": "2026-01-01T00:00:00+00:00",
        "created_by": "someone",
        "gate": {
            "baseline": "production",
            "checks": [{"metric": "accuracy", "result": "pass", "rule": "min 0.9"}],
            "passed": True,
        },
        "metrics": {"accuracy": 0.947368, "f1_macro": 0.948718, "n": 38},
        "model": MODEL,
        "params": {"n_estimators": 100, "nested": {"x": [1, 2.5, "a"]}},
        "pipeline": "iris",
        "stages": {"train": {"deps": {"a.csv": "0" * 32}, "outs": {"model": None}}},
        "version": "v0.1.0",
    }
    summary = f"Registering artifact {MODEL} version v0.1.0\n\n"
    message = summary + json.dumps(old, indent=2, sort_keys=True) + "\n"
    parsed = parse(f"{MODEL}@v0.1.0", message)
    assert parsed.schema_version == 1
    assert (
        serialise(parsed)
        == summary + json.dumps({**old, "schema": 1}, indent=2, sort_keys=True) + "\n"
    )
    ci = {"ref": "refs/heads/main", "run_id": "7", "run_url": "u", "workflow": "main"}
    with_ci = summary + json.dumps({**old, "ci": ci, "schema": 1}, indent=2, sort_keys=True) + "\n"
    assert serialise(parse("t", with_ci)) == with_ci


@pytest.mark.parametrize(
    ("message", "error"),
    [
        (b"just a note\n", "tag {t}: its message holds no JSON version record"),
        (b"summary\n\n[1, 2]\n", "tag {t}: its message holds no JSON version record"),
        (b"summary\n\n{\xff\xfe}\n", "tag {t}: its message is not UTF-8 text"),
        (
            b'summary\n\n{"model": "m"}\n',
            "tag {t}: invalid version record: version: Field required",
        ),
        (b'summary\n\n{"schema": 9}\n', "tag {t}: its record has schema 9, newer than"),
    ],
)
def test_a_bad_record_names_its_tag(repo: Path, message: bytes, error: str) -> None:
    name = f"{MODEL}@v0.1.0"
    tag(repo, name, message=message)
    (found,) = versions.all_versions(repo, MODEL)  # listing does not fail on it
    with pytest.raises(UsageError) as err:
        _ = found.record
    assert err.value.message.startswith(error.format(t=name))


def test_a_bad_record_is_refused_without_a_traceback(repo: Path) -> None:
    tag(repo, f"{MODEL}@v0.1.0", message=b"summary\n\n{\xff}\n")
    for args in (
        ["promote", MODEL, "--to", "staging", "--version", "v0.1.0"],
        ["deploy", "--env", "staging"],
    ):
        result = _mlops(repo, *args)
        assert "Traceback" not in result.stderr
        assert f"tag {MODEL}@v0.1.0: its message is not UTF-8 text" in result.stderr
        assert result.returncode in (1, 2)
    history = _mlops(repo, "history", "--format", "json")
    assert history.returncode == 0
    assert json.loads(history.stdout)["warnings"] == [
        f"tag {MODEL}@v0.1.0: its message is not UTF-8 text"
    ]


def _mlops(
    root: Path, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return run_cli(*args, cwd=root, env=env)


# ------------------------------------------------------------------ git from hooks and worktrees


def test_git_ignores_the_callers_repository_variables(
    repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """As in a git hook of another repository: GIT_DIR and GIT_INDEX_FILE point there."""
    tag(repo, f"{MODEL}@v0.1.0")
    other = tmp_path / "other"
    other.mkdir()
    sh(other, "init", "--quiet", "--initial-branch=main")
    commit(other, "elsewhere")
    env = {
        **os.environ,
        "GIT_DIR": str(other / ".git"),
        "GIT_WORK_TREE": str(other),
        "GIT_INDEX_FILE": str(other / ".git" / "index"),
    }
    history = _mlops(repo, "history", "--format", "json", env=env)
    assert history.returncode == 0, history.stderr
    kinds = [(e["kind"], e["version"]) for e in json.loads(history.stdout)["events"]]
    assert ("registered", "v0.1.0") in kinds
    assert ("desired", "latest") in kinds
    status = _mlops(repo, "status", "--format", "json", env=env)
    assert json.loads(status.stdout)[0]["desired"] == "v0.1.0"
    for name, value in env.items():
        if name.startswith("GIT_"):
            monkeypatch.setenv(name, value)
    assert [v.version for v in versions.all_versions(repo, MODEL)] == ["v0.1.0"]
    assert git.toplevel(repo) == repo.resolve()


# ------------------------------------------------------------------ the actor


def test_actor_in_ci_names_the_run(repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GITHUB_ACTOR", "octocat")
    assert git.actor(repo) == "octocat"
    monkeypatch.setenv("GITHUB_SERVER_URL", "https://github.com")
    monkeypatch.setenv("GITHUB_REPOSITORY", "org/repo")
    monkeypatch.setenv("GITHUB_RUN_ID", "42")
    assert git.actor(repo) == "octocat (https://github.com/org/repo/actions/runs/42)"


def test_actor_outside_ci_is_the_git_identity(repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GITHUB_ACTOR", raising=False)
    assert git.actor(repo) == "Test User <test@example.com>"
    for var in ("GIT_AUTHOR_NAME", "GIT_AUTHOR_EMAIL"):
        monkeypatch.delenv(var)
    sh(repo, "config", "user.name", "Ada Lovelace")
    sh(repo, "config", "user.email", "ada@example.com")
    assert git.actor(repo) == "Ada Lovelace <ada@example.com>"
    sh(repo, "config", "--unset", "user.name")
    sh(repo, "config", "--unset", "user.email")
    import getpass

    assert git.actor(repo) == getpass.getuser()
