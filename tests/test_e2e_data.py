"""End to end: custom stages that feed built-in steps, in a real git + DVC repository."""

from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml

from conftest import Sh, copy_template, git_commit

pytestmark = pytest.mark.slow

# A feature step between ingest and split: adds a column, and says its file is the `data`.
FEATURES = """  features:
    cmd: >-
      {python} -c "import pandas as pd;
      d = pd.read_parquet('outputs/iris/ingest/data.parquet');
      d['petal_area'] = d.petal_length_cm * d.petal_width_cm;
      d.to_parquet('data/features.parquet', index=False)"
    deps: [outputs/iris/ingest/data.parquet]
    outs: [data/features.parquet]
    provides: {{data: data/features.parquet}}
"""


@pytest.fixture(scope="module")
def sh(tmp_path_factory: pytest.TempPathFactory) -> Sh:
    return Sh(tmp_path_factory.mktemp("home"))


def test_a_cmd_stage_feeds_split(trained_template: Path, tmp_path: Path, sh: Sh) -> None:
    root = copy_template(trained_template, tmp_path / "demo")
    (root / "data").mkdir()
    path = root / "pipelines/iris.yaml"
    text = path.read_text()
    path.write_text(
        text.replace("  split:\n", FEATURES.format(python=sys.executable) + "  split:\n", 1)
    )
    sh("mlops", "validate", cwd=root)
    sh("mlops", "compile", cwd=root)
    stages = yaml.safe_load((root / "pipelines/iris/dvc.yaml").read_text())["stages"]
    assert stages["split"]["deps"] == ["data/features.parquet"]
    sh("mlops", "run", cwd=root)
    train = pd.read_parquet(root / "outputs/iris/split/train.parquet")
    assert "petal_area" in train.columns
    meta = yaml.safe_load((root / "outputs/iris/train/model/meta.json").read_text())
    assert "petal_area" in [f["name"] for f in meta["features"]]


def test_provides_names_a_file_the_stage_writes(
    trained_template: Path, tmp_path: Path, sh: Sh
) -> None:
    root = copy_template(trained_template, tmp_path / "demo")
    path = root / "pipelines/iris.yaml"
    stage = FEATURES.format(python="python").replace(
        "provides: {data: data/features.parquet}", "provides: {data: data/feature.parquet}"
    )
    path.write_text(path.read_text().replace("  split:\n", stage + "  split:\n", 1))
    result = sh("mlops", "validate", cwd=root, check=False)
    assert result.returncode == 2
    assert (
        "pipelines/iris.yaml:19:22: error: stages.features.provides.data: 'data/feature.parquet' "
        "is not one of the stage's outs (did you mean 'data/features.parquet'?)"
    ) in result.stderr
    assert "hint: list 'data/feature.parquet' under outs: too" in result.stderr


def _wine_project(trained_template: Path, root: Path, sh: Sh) -> Path:
    """The example trained on a CSV brought in with `dvc add`, registered and pushed."""
    from sklearn.datasets import load_wine

    copy_template(trained_template, root)
    (root / "data").mkdir()
    frame = load_wine(as_frame=True).frame.rename(columns={"target": "cultivar"})
    frame.to_csv(root / "data/wine.csv", index=False)
    sh("dvc", "add", "--quiet", "data/wine.csv", cwd=root)
    path = root / "pipelines/iris.yaml"
    text = path.read_text()
    for old, new in (
        ('with: {source: "sklearn:iris"}', "with: {source: data/wine.csv}"),
        ("target: species", "target: cultivar"),
        ("n_estimators: 100", "n_estimators: 10"),
    ):
        assert old in text
        text = text.replace(old, new)
    path.write_text(text)
    sh("mlops", "compile", cwd=root)
    sh("mlops", "run", cwd=root)
    git_commit(sh, root, "train on wine.csv")
    sh("dvc", "push", "--quiet", cwd=root)
    sh("mlops", "register", "iris", cwd=root)
    return root


def test_dvc_added_data_from_a_fresh_clone(trained_template: Path, tmp_path: Path, sh: Sh) -> None:
    origin = _wine_project(trained_template, tmp_path / "demo", sh)
    clone = tmp_path / "clone"
    sh("git", "clone", "--quiet", str(origin), str(clone), cwd=tmp_path)
    # The example's remote is a folder of the original work tree; a clone points at it.
    storage = str(origin / ".mlops/storage")
    sh("dvc", "remote", "modify", "--local", "local", "url", storage, cwd=clone)

    result = sh("mlops", "run", cwd=clone, check=False)
    assert result.returncode == 1
    assert result.stderr.splitlines()[-2:] == [
        "error: input data/wine.csv (tracked by data/wine.csv.dvc) is not in the work tree: "
        "its data is only in the DVC remote",
        "  hint: fetch it with `mlops run --pull`, or `dvc pull data/wine.csv.dvc`",
    ]

    result = sh("mlops", "reproduce", "iris-classifier@v0.1.0", cwd=clone)
    assert result.stdout == (
        "iris-classifier@v0.1.0: identical: metrics match, model sha256 matches\n"
    )
    assert "fetching data/wine.csv.dvc from the DVC remote" in result.stderr
