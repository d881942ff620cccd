"""End to end: `mlops reproduce MODEL@VERSION` retrains a version from its commit and compares.

Each test registers a version in its own copy of the session's trained template.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conftest import Sh, copy_template, git_commit

pytestmark = pytest.mark.slow

MODEL = "iris-classifier"
METRICS = "outputs/iris/evaluate/metrics.json"


@pytest.fixture(scope="module")
def sh(tmp_path_factory: pytest.TempPathFactory) -> Sh:
    return Sh(tmp_path_factory.mktemp("home"))


@pytest.fixture
def project(trained_template: Path, tmp_path: Path) -> Path:
    return copy_template(trained_template, tmp_path / "demo")


def test_reproduce_reports_identical(project: Path, sh: Sh) -> None:
    # --format json here (one retrain serves both checks); the DIFFERENT test below
    # covers the text output.
    sh("mlops", "register", "iris", cwd=project)
    out = sh("mlops", "reproduce", f"{MODEL}@v0.1.0", "--format", "json", cwd=project).stdout
    document = json.loads(out)  # one JSON document and nothing else on stdout
    assert document["version"] == f"{MODEL}@v0.1.0"
    assert document["identical"] is True
    assert document["metrics"]["same"] is True
    assert document["metrics"]["recorded"] == document["metrics"]["reproduced"]
    assert document["model"]["same"] is True
    assert document["model"]["recorded"] == document["model"]["reproduced"]


def test_reproduce_reports_different_when_the_record_does_not_match(project: Path, sh: Sh) -> None:
    # Someone edits the committed metrics by hand and makes DVC accept them (`dvc commit`):
    # the registered record then claims an accuracy that training does not give.
    metrics_file = project / METRICS
    honest = json.loads(metrics_file.read_text())
    claimed = {**honest, "accuracy": 0.999}
    metrics_file.write_text(json.dumps(claimed, indent=2) + "\n")
    sh("dvc", "commit", "--force", cwd=project)
    git_commit(sh, project, "better numbers")
    sh("mlops", "register", "iris", cwd=project)
    result = sh("mlops", "reproduce", f"{MODEL}@v0.1.0", cwd=project, check=False)
    assert result.returncode == 1, result.stderr
    assert result.stdout == (
        f"{MODEL}@v0.1.0: DIFFERENT: metrics differ, model sha256 matches\n"
        f"  accuracy: recorded 0.999, reproduced {honest['accuracy']}\n"
    )
    assert result.stderr.strip().splitlines()[-2:] == [
        f"error: {MODEL}@v0.1.0 does not reproduce",
        "  hint: see the differences above",
    ]
    assert "Traceback" not in result.stderr
