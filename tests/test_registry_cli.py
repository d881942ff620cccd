"""The registry's verbs from the command line: refusals, `--format json`, one actor.

The refusals need no trained model: versions are crafted as tags with git. The
rest share one trained and registered project per module, copied per test, so
each test stands alone.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from runner.commands.init import example_files
from runner.verbs import VERBS

from conftest import Sh, build_tree, copy_template, run_cli

MODEL = "iris-classifier"


def git(root: Path, *args: str, input: str | None = None) -> str:
    return subprocess.run(
        ["git", *args], cwd=root, input=input, capture_output=True, text=True, check=True
    ).stdout


def mlops(
    root: Path, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return run_cli(*args, cwd=root, env=env)


def craft_version(root: Path, version: str, at: str = "HEAD", passed: bool = True) -> None:
    """A version tag whose record is as register wrote it before records had a schema.

    The artifact is not needed by the refusals tested with it.
    """
    commit = git(root, "rev-parse", at).strip()
    record = {
        "artifact": {"digest": "d" * 64, "files": {}, "path": "outputs/iris/train/model"},
        "commit": commit,
        "created_at": "2026-01-01T00:00:00+00:00",
        "created_by": "Test User",
        "gate": {"baseline": "none", "checks": [], "passed": passed},
        "metrics": {"accuracy": 0.95},
        "model": MODEL,
        "params": {},
        "pipeline": "iris",
        "stages": {},
        "version": version,
    }
    message = f"Registering artifact {MODEL} version {version}\n\n"
    message += json.dumps(record, indent=2, sort_keys=True) + "\n"
    git(root, "tag", "-a", f"{MODEL}@{version}", commit, "-F", "-", input=message)


def set_desired(root: Path, env: str, version: str) -> None:
    path = root / "deployments.yaml"
    data = yaml.safe_load(path.read_text())
    data[env] = {MODEL: version}
    path.write_text(yaml.safe_dump(data))
    git(root, "commit", "--quiet", "-am", f"{env} runs {version}")


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """The example project committed on main, nothing run and nothing registered."""
    root = build_tree(tmp_path / "project", dict(example_files()))
    git(root, "init", "--quiet", "--initial-branch=main")
    git(root, "add", "-A")
    git(root, "commit", "--quiet", "-m", "init")
    return root


# ------------------------------------------------------------------ refusals (no training)


def test_register_refuses_a_dirty_tree(repo: Path) -> None:
    source = repo / "pipelines/iris.yaml"
    source.write_text(source.read_text().replace("n_estimators: 100", "n_estimators: 80"))
    result = mlops(repo, "register", "iris")
    assert (result.returncode, result.stdout) == (1, "")
    assert result.stderr == (
        "error: uncommitted changes in pipelines/iris.yaml; a version must describe a commit\n"
        "  hint: commit them (including dvc.lock) and register again\n"
    )


def test_register_refuses_a_registered_commit(repo: Path) -> None:
    craft_version(repo, "v0.1.0")
    head = git(repo, "rev-parse", "--short=7", "HEAD").strip()
    result = mlops(repo, "register", "iris")
    assert result.returncode == 1
    assert result.stderr == (
        f"error: commit {head} is already registered as {MODEL}@v0.1.0\n"
        "  hint: a commit is registered once; make a new commit to register a new version\n"
    )


def test_promote_names_where_a_model_is_deployed(repo: Path) -> None:
    # The model exists but not in production: no "did you mean" naming the model itself.
    source = repo / "pipelines/iris.yaml"
    source.write_text(
        source.read_text().replace("environments: [staging, production]", "environments: [staging]")
    )
    result = mlops(repo, "promote", MODEL, "--to", "production")
    assert (result.returncode, result.stdout) == (2, "")
    assert result.stderr == (
        f"error: no pipeline deploys '{MODEL}' to production: pipelines/iris.yaml deploys it "
        "to staging\n"
        "  hint: add production to deploy.environments in pipelines/iris.yaml\n"
    )


def test_promote_suggests_a_close_model_name(repo: Path) -> None:
    result = mlops(repo, "promote", "iris-clasifier", "--to", "production")
    assert result.returncode == 2
    assert result.stderr == (
        f"error: no pipeline deploys 'iris-clasifier' to production (did you mean '{MODEL}'?)\n"
        f"  hint: models deployed: {MODEL}; add the environment to the pipeline's "
        "deploy.environments\n"
    )


def test_register_push_rerun_finishes_a_killed_push(repo: Path, tmp_path: Path) -> None:
    # A registration killed during `git push`: the tag exists here, not on origin.
    origin = tmp_path / "origin.git"
    git(tmp_path, "init", "--quiet", "--bare", str(origin))
    git(repo, "remote", "add", "origin", str(origin))
    git(repo, "push", "--quiet", "origin", "main")
    craft_version(repo, "v0.1.0")
    result = mlops(repo, "register", "iris", "--push")
    assert (result.returncode, result.stdout) == (
        0,
        f"{MODEL}@v0.1.0 was registered but not pushed: pushed it to origin\n",
    ), result.stderr
    assert git(origin, "tag", "--list").split() == [f"{MODEL}@v0.1.0"]
    # Once origin has it, a rerun refuses as for any registered commit.
    again = mlops(repo, "register", "iris", "--push")
    assert again.returncode == 1
    assert "is already registered as" in again.stderr


def test_rollback_with_nothing_older(repo: Path) -> None:
    craft_version(repo, "v0.1.0")
    set_desired(repo, "production", "v0.1.0")
    result = mlops(repo, "rollback", MODEL, "--env", "production")
    assert (result.returncode, result.stdout) == (1, "")
    assert result.stderr == (
        f"error: {MODEL} has no version older than v0.1.0\n  hint: name one with --to\n"
    )


def test_rollback_with_nothing_deployed(repo: Path) -> None:
    craft_version(repo, "v0.1.0")
    result = mlops(repo, "rollback", MODEL, "--env", "production")
    assert result.returncode == 1
    assert result.stderr == (
        f"error: production runs no version of {MODEL}\n  hint: there is nothing to roll back\n"
    )


def test_rollback_refuses_a_version_whose_gate_failed(repo: Path) -> None:
    craft_version(repo, "v0.1.0", passed=False)
    git(repo, "commit", "--quiet", "--allow-empty", "-m", "two")
    craft_version(repo, "v0.1.1")
    set_desired(repo, "production", "v0.1.1")
    result = mlops(repo, "rollback", MODEL, "--env", "production")
    assert result.returncode == 1
    assert result.stderr.startswith(f"error: {MODEL}@v0.1.0: its gate did not pass at ")


def test_status_with_an_unresolvable_desired_version(repo: Path) -> None:
    craft_version(repo, "v0.1.0")
    set_desired(repo, "production", "v9.9.9")
    result = mlops(repo, "status", "--format", "json")
    assert result.returncode == 1
    rows = {row["env"]: row for row in json.loads(result.stdout)}
    assert rows["production"] == {
        "env": "production",
        "model": MODEL,
        "wanted": "v9.9.9",
        "desired": f"unresolved: {MODEL} v9.9.9 is not registered (registered: v0.1.0)",
        "actual": "(none)",
        "state": "drift",
    }
    assert rows["staging"]["desired"] == "v0.1.0"
    text = mlops(repo, "status")
    assert text.returncode == 1
    assert f"unresolved: {MODEL} v9.9.9 is not registered (registered: v0.1.0)" in text.stdout
    assert "Traceback" not in text.stderr


def test_status_does_not_follow_a_side_branch(repo: Path) -> None:
    craft_version(repo, "v0.1.0")
    git(repo, "switch", "--quiet", "-c", "feature")
    git(repo, "commit", "--quiet", "--allow-empty", "-m", "experiment")
    craft_version(repo, "v0.2.0")
    rows = json.loads(mlops(repo, "status", "--format", "json").stdout)
    assert [(r["env"], r["wanted"], r["desired"]) for r in rows] == [
        ("staging", "latest", "v0.1.0")
    ]


# ------------------------------------------------------------------ a trained project


@pytest.fixture(scope="module")
def sh(tmp_path_factory: pytest.TempPathFactory) -> Sh:
    shell = Sh(tmp_path_factory.mktemp("home"))
    shell.env.pop("GIT_AUTHOR_DATE")
    shell.env.pop("GIT_COMMITTER_DATE")
    return shell


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory, sh: Sh, trained_template: Path) -> Path:
    """Trained and committed; v0.1.0 and v0.1.1 registered; staging serves v0.1.1."""
    root = copy_template(trained_template, tmp_path_factory.mktemp("registry") / "demo")
    sh("mlops", "register", "iris", cwd=root)
    sh("git", "commit", "--quiet", "--allow-empty", "-m", "second", cwd=root)
    sh("mlops", "register", "iris", cwd=root)
    sh("mlops", "deploy", "--env", "staging", cwd=root)
    return root


@pytest.fixture
def trained(template: Path, tmp_path: Path) -> Path:
    """A private copy of the template, so that each test stands alone."""
    return Path(shutil.copytree(template, tmp_path / "demo", symlinks=True))


def _commit(sh: Sh, root: Path, message: str) -> None:
    sh("git", "add", "-A", cwd=root)
    sh("git", "commit", "--quiet", "--allow-empty", "-m", message, cwd=root)


def _rollback_setup(sh: Sh, root: Path) -> None:
    sh("mlops", "promote", MODEL, "--to", "production", cwd=root)
    _commit(sh, root, "production runs v0.1.1")


def _register_setup(sh: Sh, root: Path) -> None:
    _commit(sh, root, "third")


JSON_VERBS: dict[str, tuple[list[str], Callable[[Sh, Path], None] | None]] = {
    "validate": (["validate"], None),
    "compile": (["compile"], None),
    "params": (["params", "pull"], None),
    "plan": (["plan"], None),
    "run": (["run", "iris"], None),
    "gate": (["gate", "iris"], None),
    "register": (["register", "iris"], _register_setup),
    "promote": (["promote", MODEL, "--to", "production"], None),
    "rollback": (["rollback", MODEL, "--env", "production"], _rollback_setup),
    "deploy": (["deploy"], None),
    "status": (["status"], None),
    "history": (["history"], None),
}
# Verbs whose one JSON document is checked where their slow run happens anyway.
JSON_ELSEWHERE = {
    "reproduce": "tests/test_e2e_reproduce.py::test_reproduce_reports_identical",
    "ci": "tests/test_ci_verbs.py::test_collect_takes_results_not_data_or_models",
    "import": "tests/test_dvc_features.py::test_import_reports_what_it_could_not_carry",
    "collect": "tests/test_e2e_shards.py::test_sharded_sweep_trains_each_variant_once",
    "monitor": "tests/test_e2e_monitor.py::"
    "test_unshifted_traffic_passes_and_shifted_traffic_names_the_column",
}


def test_every_json_verb_is_covered() -> None:
    covered = sorted([*JSON_VERBS, *JSON_ELSEWHERE])
    assert covered == sorted(v.name for v in VERBS if "json" in v.formats)


@pytest.mark.slow
@pytest.mark.parametrize("verb", sorted(JSON_VERBS))
def test_format_json_prints_one_document(trained: Path, sh: Sh, verb: str) -> None:
    args, setup = JSON_VERBS[verb]
    if setup is not None:
        setup(sh, trained)
    result = sh("mlops", *args, "--format", "json", cwd=trained, check=False)
    assert result.returncode in (0, 1), result.stderr
    assert "Traceback" not in result.stderr
    document = json.loads(result.stdout)  # one document and nothing else
    assert document is not None


@pytest.mark.slow
def test_promote_register_rollback_json_say_what_they_did(trained: Path, sh: Sh) -> None:
    promoted = json.loads(
        sh("mlops", "promote", MODEL, "--to", "production", "--format", "json", cwd=trained).stdout
    )
    head = sh("git", "rev-parse", f"{MODEL}@v0.1.1^{{commit}}", cwd=trained).stdout.strip()
    assert promoted == {
        "action": "promoted",
        "env": "production",
        "model": MODEL,
        "previous": None,
        "version": "v0.1.1",
        "commit": head,
    }
    _commit(sh, trained, "production runs v0.1.1")
    rolled = json.loads(
        sh(
            "mlops", "rollback", MODEL, "--env", "production", "--format", "json", cwd=trained
        ).stdout
    )
    assert (rolled["action"], rolled["previous"], rolled["version"]) == (
        "rolled back",
        "v0.1.1",
        "v0.1.0",
    )
    _commit(sh, trained, "third")
    registered = json.loads(sh("mlops", "register", "iris", "--format", "json", cwd=trained).stdout)
    assert (registered["action"], registered["tag"], registered["pushed"]) == (
        "registered",
        f"{MODEL}@v0.1.2",
        False,
    )


@pytest.mark.slow
def test_register_bumps_as_told(trained: Path, sh: Sh) -> None:
    for part, expected in (("minor", "v0.2.0"), ("patch", "v0.2.1"), ("major", "v1.0.0")):
        _commit(sh, trained, f"bump {part}")
        out = sh("mlops", "register", "iris", "--bump", part, cwd=trained).stdout
        assert out.startswith(f"registered {MODEL} {expected} at ")
    # A tag that is not a version does not count when bumping.
    sh("git", "tag", "-a", f"{MODEL}@v01.0.0", "-m", "not semver", cwd=trained)
    sh("git", "tag", f"{MODEL}@v7.0.0", cwd=trained)  # lightweight
    _commit(sh, trained, "after stray tags")
    out = sh("mlops", "register", "iris", cwd=trained).stdout
    assert out.startswith(f"registered {MODEL} v1.0.1 at ")


@pytest.mark.slow
def test_register_refuses_when_the_gate_fails(trained: Path, sh: Sh) -> None:
    source = trained / "pipelines/iris.yaml"
    source.write_text(source.read_text().replace("min: 0.90}", "min: 0.999}"))
    _commit(sh, trained, "stricter gate")
    result = sh("mlops", "register", "iris", cwd=trained, check=False)
    assert (result.returncode, result.stdout) == (1, "")
    assert result.stderr.startswith("error: the gate fails for iris: accuracy min 0.999: ")
    assert result.stderr.endswith("; not registering\n  hint: see `mlops gate iris`\n")
    tags = sh("git", "tag", "--list", f"{MODEL}@*", cwd=trained).stdout.split()
    assert tags == [f"{MODEL}@v0.1.0", f"{MODEL}@v0.1.1"]


@pytest.mark.slow
@pytest.mark.parametrize("ci", [False, True])
def test_register_deploy_and_history_name_one_actor(trained: Path, sh: Sh, ci: bool) -> None:
    env = dict(sh.env)
    expected = "Test User <test@example.com>"
    if ci:
        env |= {
            "GITHUB_ACTOR": "octocat",
            "GITHUB_SERVER_URL": "https://github.com",
            "GITHUB_REPOSITORY": "org/repo",
            "GITHUB_RUN_ID": "42",
        }
        expected = "octocat (https://github.com/org/repo/actions/runs/42)"
    _commit(sh, trained, "third")
    assert mlops(trained, "register", "iris", env=env).returncode == 0
    assert mlops(trained, "deploy", "--env", "staging", env=env).returncode == 0
    record = sh("git", "tag", "-l", "--format=%(contents)", f"{MODEL}@v0.1.2", cwd=trained)
    assert json.loads(record.stdout.partition("\n\n")[2])["created_by"] == expected
    audit = (trained / ".mlops/deploy/staging" / MODEL / "audit.jsonl").read_text()
    assert json.loads(audit.splitlines()[-1])["actor"] == expected
    history = json.loads(mlops(trained, "history", "--format", "json", env=env).stdout)
    details = {
        (e["kind"], e["version"]): e["detail"]
        for e in history["events"]
        if e["version"] == "v0.1.2"
    }
    assert details[("registered", "v0.1.2")].endswith(f" by {expected}")
    assert details[("deployed", "v0.1.2")] == f"v0.1.1 -> v0.1.2 by {expected}"
    # A change of desired state is made by a commit: its author, in the same form.
    desired = [e["detail"] for e in history["events"] if e["kind"] == "desired"]
    assert desired and all(" by Test User <test@example.com>: " in d for d in desired)
