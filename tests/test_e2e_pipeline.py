"""End to end: `mlops init && mlops compile && dvc repro` in a real git repo with real DVC.

The tests start from a copy of the session's trained template (see conftest); the ones that
change the project work on a copy of their own.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import pytest
import yaml

from conftest import Sh, copy_template, template_first_run

pytestmark = pytest.mark.slow

METRICS = "outputs/iris/evaluate/metrics.json"
MODEL = "outputs/iris/train/model/model.skops"


@pytest.fixture(scope="module")
def sh(tmp_path_factory: pytest.TempPathFactory) -> Sh:
    return Sh(tmp_path_factory.mktemp("home"))


@pytest.fixture(scope="module")
def trained(trained_template: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The init example, compiled, trained and committed; the tests here only read it."""
    return copy_template(trained_template, tmp_path_factory.mktemp("e2e") / "demo")


@pytest.fixture
def project(trained_template: Path, tmp_path: Path) -> Path:
    """A copy of the trained example for one test to change."""
    return copy_template(trained_template, tmp_path / "demo")


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_first_repro_trains_and_evaluates(trained_template: Path, trained: Path) -> None:
    first = template_first_run(trained_template)
    assert len(first["ran"]) == 5 and first["restored"] == [] and first["failed"] == []
    metrics = json.loads((trained / METRICS).read_text())
    assert set(metrics) == {"accuracy", "f1_macro"}
    assert metrics["accuracy"] > 0.85
    manifest = json.loads((trained / "outputs/iris/manifest.json").read_text())
    assert manifest["outputs"][METRICS] == _sha(trained / METRICS)


def test_second_repro_runs_nothing(trained: Path, sh: Sh) -> None:
    again = sh("dvc", "repro", cwd=trained)
    assert "Running stage" not in again.stdout
    assert again.stdout.count("didn't change, skipping") == 5


def test_changing_one_param_reruns_only_what_depends_on_it(project: Path, sh: Sh) -> None:
    source = project / "pipelines/iris.yaml"
    original = source.read_text()
    source.write_text(original.replace("max_depth: 5", "max_depth: 3"))
    sh("mlops", "compile", cwd=project)
    out = sh("dvc", "repro", cwd=project).stdout
    running = sorted(line.split("'")[1] for line in out.splitlines() if "Running stage" in line)
    assert running == [
        "iris",
        "pipelines/iris/dvc.yaml:evaluate",
        "pipelines/iris/dvc.yaml:train",
    ]
    source.write_text(original)
    sh("mlops", "compile", cwd=project)
    back = sh("dvc", "repro", cwd=project).stdout
    # Going back is served from DVC's run-cache: nothing trains again.
    assert "is cached - skipping run" in back
    assert sh("git", "status", "--porcelain", cwd=project).stdout == ""


def test_dvc_tools_work_on_the_output(trained: Path, sh: Sh) -> None:
    dag = sh("dvc", "dag", "--md", cwd=trained).stdout
    assert "pipelines/iris/dvc.yaml:train" in dag and "iris" in dag
    shown = json.loads(sh("dvc", "metrics", "show", "--json", cwd=trained).stdout)
    assert shown  # DVC found the metrics file
    assert "accuracy" in json.dumps(shown)
    diff = sh("dvc", "params", "diff", "--all", "--json", cwd=trained).stdout
    assert "iris.train.max_depth" in diff
    plots = sh("dvc", "plots", "show", "--json", cwd=trained)
    rendered = sorted(json.loads(plots.stdout)["data"])
    # Each plot file once, rendered with the template the root dvc.yaml gives it.
    assert rendered == [
        "outputs/iris/evaluate/plots/confusion.json",
        "outputs/iris/evaluate/plots/precision_recall.json",
        "outputs/iris/evaluate/plots/roc.json",
    ]


def test_mlops_run_reports_up_to_date_with_metrics(trained: Path, sh: Sh) -> None:
    result = sh("mlops", "run", "--format", "json", cwd=trained)
    summary = json.loads(result.stdout)
    assert summary["ran"] == [] and summary["failed"] == []
    assert len(summary["unchanged"]) == 5
    assert (
        summary["metrics"]["iris"]["accuracy"]
        == json.loads((trained / METRICS).read_text())["accuracy"]
    )
    assert "[5/5] up to date iris" in result.stderr


def test_fresh_clone_reproduces_identical_metrics_and_model(
    trained: Path, sh: Sh, tmp_path: Path
) -> None:
    clone = tmp_path / "clone"
    sh("git", "clone", "-q", str(trained), str(clone), cwd=tmp_path)
    assert not (clone / MODEL).exists()
    result = sh("mlops", "run", "--force", "--no-run-cache", cwd=clone)
    assert "5 ran" in result.stdout, result.stdout + result.stderr
    assert (clone / METRICS).read_bytes() == (trained / METRICS).read_bytes()
    assert _sha(clone / MODEL) == _sha(trained / MODEL)


def test_exp_run_set_param_changes_metrics_without_recompiling(project: Path, sh: Sh) -> None:
    clone = project
    before = json.loads((clone / METRICS).read_text())
    sh(
        "dvc",
        "exp",
        "run",
        "-S",
        "iris.train.max_depth=1",
        "-S",
        "iris.train.n_estimators=1",
        cwd=clone,
    )
    after = json.loads((clone / METRICS).read_text())
    assert after != before
    assert yaml.safe_load((clone / "params.yaml").read_text())["iris"]["train"] == {
        "n_estimators": 1,
        "max_depth": 1,
    }
    meta = json.loads((clone / "outputs/iris/train/model/meta.json").read_text())
    assert meta["params"]["max_depth"] == 1


def test_every_stage_restores_from_the_run_cache(project: Path, sh: Sh) -> None:
    """After `rm -rf outputs` nothing runs again: evaluate and the root stage included."""
    outputs = project / "outputs"
    before = {p.relative_to(project).as_posix(): p.read_bytes() for p in outputs.rglob("*.*")}
    assert (
        "outputs/iris/manifest.json" in before and "outputs/iris/evaluate/plots/roc.json" in before
    )
    shutil.rmtree(outputs)
    summary = json.loads(sh("mlops", "run", "--format", "json", cwd=project).stdout)
    assert summary["ran"] == [] and summary["failed"] == []
    assert len(summary["restored"]) == 5
    after = {p.relative_to(project).as_posix(): p.read_bytes() for p in outputs.rglob("*.*")}
    assert after == before
    assert sh("git", "status", "--porcelain", cwd=project).stdout == ""
