"""End to end: gates against baselines read from git, in a real repository.

main trains a weak model, registered as iris-classifier@v0.1.0; a better one
is merged and registered as v0.2.0 and production moves to it. Then branches
propose a regression, and a regression that also loosens the rule.

Both states of main are built once per module from the session's trained template
(whose model is the strong one), and each test works on its own copy.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from conftest import Sh, copy_template, git_commit

pytestmark = pytest.mark.slow

WEAK = "  train: {n_estimators: 1, max_depth: 1}"
STRONG = "  train: {n_estimators: 100, max_depth: 5}"
RULES = """  rules:
    - {metric: accuracy, min: 0.5}
    - {metric: f1_macro, max_drop: 0.02}
"""


@pytest.fixture(scope="module")
def sh(tmp_path_factory: pytest.TempPathFactory) -> Sh:
    return Sh(tmp_path_factory.mktemp("home"))


def _edit(root: Path, old: str, new: str) -> None:
    path = root / "pipelines/iris.yaml"
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new))


def _register(sh: Sh, root: Path, version: str) -> None:
    # What `mlops register` will do: an annotated GTO-style tag on the commit.
    sh("git", "tag", "-a", f"iris-classifier@{version}", "-m", "registered", cwd=root)


def _production(root: Path, version: str) -> None:
    (root / "deployments.yaml").write_text(
        f"staging:\n  iris-classifier: latest\nproduction:\n  iris-classifier: {version}\n"
    )


@pytest.fixture(scope="module")
def weak_main(trained_template: Path, tmp_path_factory: pytest.TempPathFactory, sh: Sh) -> Path:
    """main with the gate's rules and a weak model, registered as v0.1.0 and in production."""
    root = copy_template(trained_template, tmp_path_factory.mktemp("gate") / "weak")
    text = (root / "pipelines/iris.yaml").read_text()
    rules_start = text.index("  rules:\n")
    text = text[:rules_start] + RULES + text[text.index("deploy:") :]
    (root / "pipelines/iris.yaml").write_text(text.replace(STRONG, WEAK))
    sh("mlops", "run", cwd=root)
    git_commit(sh, root, "weak model")
    _register(sh, root, "v0.1.0")
    _production(root, "v0.1.0")
    git_commit(sh, root, "production runs v0.1.0")
    return root


def _better(sh: Sh, root: Path) -> None:
    """Branch `better` trains the strong model again."""
    sh("git", "checkout", "-qb", "better", cwd=root)
    _edit(root, WEAK, STRONG)
    sh("mlops", "run", cwd=root)


def _merge_better(sh: Sh, root: Path) -> None:
    """Merge `better`, register v0.2.0 and move production to it."""
    git_commit(sh, root, "better model")
    sh("git", "checkout", "-q", "main", cwd=root)
    sh("git", "merge", "-q", "--ff-only", "better", cwd=root)
    _register(sh, root, "v0.2.0")
    _production(root, "v0.2.0")
    git_commit(sh, root, "production runs v0.2.0")


@pytest.fixture(scope="module")
def strong_main(weak_main: Path, tmp_path_factory: pytest.TempPathFactory, sh: Sh) -> Path:
    """main after the better model was merged and registered as v0.2.0, in production."""
    root = copy_template(weak_main, tmp_path_factory.mktemp("gate") / "strong")
    _better(sh, root)
    _merge_better(sh, root)
    return root


def _gate(sh: Sh, root: Path, *args: str) -> tuple[int, dict[str, Any], str]:
    result = sh("mlops", "gate", "iris", "--base", "main", *args, cwd=root, check=False)
    report = json.loads((root / "gate.json").read_text()) if (root / "gate.json").exists() else {}
    return result.returncode, report, result.stdout + result.stderr


def test_improvement_passes_against_production(weak_main: Path, sh: Sh, tmp_path: Path) -> None:
    repo = copy_template(weak_main, tmp_path / "demo")
    _better(sh, repo)
    code, report, output = _gate(sh, repo, "--json", "gate.json")
    assert code == 0, output
    assert report["passed"] is True
    baseline = report["baseline"]
    assert isinstance(baseline, dict) and baseline["label"].startswith(
        "production: iris-classifier v0.1.0 ("
    )
    checks = {(c["metric"], c["rule"]): c for c in report["checks"]}
    drop = checks[("f1_macro", "max_drop 0.02")]
    assert drop["result"] == "pass" and drop["delta"] > 0
    assert report["params_changed"] == [
        {"param": "train.max_depth", "baseline": 1, "candidate": 5},
        {"param": "train.n_estimators", "baseline": 1, "candidate": 100},
    ]
    (repo / "gate.json").unlink()
    _merge_better(sh, repo)


def test_regression_fails_against_production(strong_main: Path, sh: Sh, tmp_path: Path) -> None:
    repo = copy_template(strong_main, tmp_path / "demo")
    sh("git", "checkout", "-qb", "worse", "main", cwd=repo)
    _edit(repo, STRONG, WEAK)
    run = sh("mlops", "run", "--format", "json", cwd=repo)
    # The weak model was trained before on main: DVC's run-cache serves it.
    assert "iris:train" in json.loads(run.stdout)["restored"]
    code, report, output = _gate(sh, repo, "--json", "gate.json")
    assert code == 1
    assert (
        output.rstrip()
        .splitlines()[-2]
        .startswith("error: gate failed for iris: f1_macro max_drop 0.02: dropped by ")
    )
    failed = [c for c in report["checks"] if c["result"] == "fail"]
    assert [(c["metric"], c["rule"]) for c in failed] == [("f1_macro", "max_drop 0.02")]
    assert failed[0]["baseline"] > failed[0]["candidate"]
    (repo / "gate.json").unlink()
    sh("git", "checkout", "-q", ".", cwd=repo)
    sh("git", "checkout", "-q", "main", cwd=repo)


def test_loosened_rule_is_held_to_the_base_value(
    strong_main: Path, sh: Sh, tmp_path: Path, golden: Callable[[str, str], None]
) -> None:
    repo = copy_template(strong_main, tmp_path / "demo")
    sh("git", "checkout", "-qb", "loosen", "main", cwd=repo)
    _edit(repo, STRONG, WEAK)
    _edit(repo, "max_drop: 0.02", "max_drop: 0.9")
    sh("mlops", "run", cwd=repo)
    git_commit(sh, repo, "weaker model, looser rule")
    code, _, output = _gate(sh, repo, "--markdown", "gate.md")
    assert code == 1, output
    markdown = (repo / "gate.md").read_text()
    assert "f1_macro max_drop loosened from 0.02 to 0.9 on this branch" in markdown
    # Commit ids depend on every committed byte; the report's shape is what is pinned.
    golden("gate/held-rule.md", re.sub(r"\(([0-9a-f]{7})\)", "(<commit>)", markdown))
    # Once merged, the looser rule is the base's own and takes effect.
    code, _, output = _gate(sh, repo, "--base", "loosen")
    assert code == 0, output


def test_stale_metrics_fail_every_rule(strong_main: Path, sh: Sh, tmp_path: Path) -> None:
    repo = copy_template(strong_main, tmp_path / "demo")
    sh("git", "checkout", "-q", "main", cwd=repo)
    path = repo / "pipelines/iris.yaml"
    path.write_text(path.read_text().replace("n_estimators: ", "n_estimators: 3", 1))
    sh("mlops", "compile", cwd=repo)
    code, _, output = _gate(sh, repo)
    assert code == 1
    assert "candidate unavailable: stages changed since they last ran (" in output
    assert "pipelines/iris/dvc.yaml:train" in output
    assert "a stage failed or `mlops run` was not run" in output
    # The fix is a re-run, not a better model.
    assert "hint: run `mlops run` to bring the metrics up to date, then `mlops gate iris`" in output
    assert "fix the model or the data" not in output
    sh("git", "checkout", "-q", ".", cwd=repo)


def test_a_dvc_status_that_fails_fails_every_rule_with_its_error(
    strong_main: Path, sh: Sh, tmp_path: Path
) -> None:
    """The `dvc status` gate started early runs in the project: its own error is the cause."""
    repo = copy_template(strong_main, tmp_path / "demo")
    sh("git", "checkout", "-q", "main", cwd=repo)
    with (repo / ".dvc/config").open("a") as config:
        config.write("bad: [\n")
    code, _, output = _gate(sh, repo)
    assert code == 1, output
    assert "candidate unavailable: `dvc status` failed: [" in output
    assert "ERROR: configuration error - config file error" in output
    assert "Traceback" not in output
