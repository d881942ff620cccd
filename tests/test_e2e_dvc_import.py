"""End to end: `mlops import` on three hand-written DVC projects (tests/dvc_projects.py).

Each project is run as it is, imported, compiled, and compared with the original
through DVC itself: the stages DVC reads (cmd, deps, params, outs with their flags,
metrics, plots), the top-level sections, the order in which `dvc repro` runs them
and the metrics files they write. `dvc.lock` carries over, so an imported project
that was up to date stays so, and `dvc exp run -S` takes the original key names.
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from dvc_projects import PROJECTS

from conftest import Sh, build_tree, git_commit

pytestmark = pytest.mark.slow

# Print every stage as DVC reads it, from the project in the current folder.
STAGES_SCRIPT = """\
import json, os
from dvc.repo import Repo

root = os.getcwd()
rel = lambda p: os.path.relpath(p, root)
found = {}
for stage in Repo(".").index.stages:
    params, deps, outs = {}, [], []
    for dep in stage.deps:
        if type(dep).__name__ == "ParamsDependency":
            params[rel(dep.fs_path)] = sorted(dep.params or [])
        else:
            deps.append(rel(dep.fs_path))
    for out in stage.outs:
        outs.append({
            "path": rel(out.fs_path), "cache": out.use_cache, "persist": out.persist,
            "push": out.can_push, "metric": bool(out.metric), "plot": out.plot,
            "desc": out.annot.desc, "type": out.annot.type, "labels": out.annot.labels,
            "meta": out.annot.meta, "remote": out.remote,
        })
    cmd = stage.cmd if isinstance(stage.cmd, list) else [stage.cmd]
    found[stage.name] = {
        "cmd": cmd, "deps": sorted(deps), "params": params,
        "outs": sorted(outs, key=lambda o: o["path"]), "frozen": stage.frozen,
        "always_changed": stage.always_changed, "desc": stage.desc,
    }
print(json.dumps(found))
"""

METRICS = {
    "getstarted": ["eval/metrics.json", "eval/plots/roc.json", "model.pkl"],
    "validation": [
        "out/checks/north.json",
        "out/checks/south.json",
        "out/models/linear-1.json",
        "out/models/tree-2.json",
    ],
    "multiparams": ["metrics.json", "logs/loss.json", "models/model.json"],
}


@pytest.fixture(scope="module")
def sh(tmp_path_factory: pytest.TempPathFactory) -> Sh:
    return Sh(tmp_path_factory.mktemp("home"))


def _project(root: Path, sh: Sh, name: str) -> Path:
    """A git + DVC repository holding the hand-written project, committed."""
    root.mkdir(parents=True)
    build_tree(root, PROJECTS[name])
    sh("git", "init", "--quiet", cwd=root)
    sh("dvc", "init", "--quiet", cwd=root)
    git_commit(sh, root, "a DVC project")
    return root


def _stages(sh: Sh, root: Path) -> dict[str, Any]:
    return json.loads(sh(sys.executable, "-c", STAGES_SCRIPT, cwd=root).stdout)  # type: ignore[no-any-return]


def _without_ours(stages: dict[str, Any], pipeline: str) -> dict[str, Any]:
    """The stages as the team wrote them: no root stage, no stamp command or output."""
    out = {}
    for name, stage in stages.items():
        if name == pipeline:
            continue
        stamp = f"outputs/{pipeline}/.ran/"
        stage = {
            **stage,
            "cmd": [c for c in stage["cmd"] if "runner.steps --stamp" not in c],
            "outs": [o for o in stage["outs"] if not o["path"].startswith(stamp)],
        }
        out[name] = stage
    return out


def _ran(output: str) -> list[str]:
    """The stages `dvc repro` ran, in order, by name (`pipelines/x/dvc.yaml:train` -> train)."""
    return [
        line.split("'")[1].rsplit(":", 1)[-1]
        for line in output.splitlines()
        if line.startswith("Running stage '")
    ]


def _import(sh: Sh, root: Path, *args: str) -> str:
    result = sh("mlops", "import", *args, cwd=root)
    sh("mlops", "compile", cwd=root)
    return result.stdout


@pytest.mark.parametrize("name", sorted(PROJECTS))
def test_imported_project_runs_the_same_stages(tmp_path: Path, sh: Sh, name: str) -> None:
    original = _project(tmp_path / "original" / name, sh, name)
    ran_before = _ran(sh("dvc", "repro", cwd=original).stdout)
    git_commit(sh, original, "ran")
    # The imported copy starts from the same run: work tree, dvc.lock and cache.
    imported = tmp_path / "imported" / name
    shutil.copytree(original, imported, symlinks=True)
    report = _import(sh, imported)
    assert "not carried" not in report
    for copy in ("dvc.yaml", "params.yaml"):  # kept byte for byte
        assert (imported / f".mlops/imported/{copy}.orig").read_text() == PROJECTS[name][copy]
    assert (imported / ".mlops/imported/dvc.lock.orig").is_file()

    # Key by key, as DVC reads both projects.
    before = _stages(sh, original)
    after = _without_ours(_stages(sh, imported), name)
    assert list(after) == list(before)
    for stage in before:
        assert after[stage] == before[stage], stage
    # The top-level sections, in the generated root dvc.yaml.
    hand = yaml.safe_load((original / "dvc.yaml").read_text())
    compiled = yaml.safe_load((imported / "dvc.yaml").read_text())
    for key in ("metrics", "plots", "params", "artifacts"):
        assert compiled.get(key) == hand.get(key), key

    # dvc.lock carried over: only the new root stage (and a stage DVC always runs) is due.
    assert _due(sh, imported) <= {name, "touch"}
    assert set(_ran(sh("dvc", "repro", cwd=imported).stdout)) <= {name, "touch"}
    git_commit(sh, imported, "mlops import")

    # Every stage run again: the same stages in the same order, the same files.
    for rel in METRICS[name]:
        (imported / rel).unlink()
    ran_after = _ran(sh("dvc", "repro", "--force", "--no-run-cache", cwd=imported).stdout)
    assert [s for s in ran_after if s != name] == ran_before
    assert ran_after[-1] == name  # the root stage runs last
    for rel in METRICS[name]:
        assert (imported / rel).read_bytes() == (original / rel).read_bytes(), rel
    # Afterwards DVC calls the same stages changed in both (one that is always_changed).
    assert _due(sh, imported) == _due(sh, original)


def _due(sh: Sh, root: Path) -> set[str]:
    status = json.loads(sh("dvc", "status", "--json", cwd=root).stdout)
    return {stage.rsplit(":", 1)[-1] for stage in status}


def test_exp_run_set_takes_the_original_key_names(tmp_path: Path, sh: Sh) -> None:
    root = _project(tmp_path / "getstarted", sh, "getstarted")
    _import(sh, root)
    sh("dvc", "repro", cwd=root)
    git_commit(sh, root, "imported and ran")
    before = (root / "model.pkl").read_text()
    result = sh("dvc", "exp", "run", "-S", "train.n_est=60", cwd=root)
    assert _ran(result.stdout)[:2] == ["train", "evaluate"]
    assert "prepare" not in _ran(result.stdout)
    assert yaml.safe_load((root / "params.yaml").read_text())["train"]["n_est"] == 60
    assert (root / "model.pkl").read_text() != before
    # The experiment's value goes back into the pipeline file.
    sh("mlops", "params", "pull", cwd=root)
    pipeline = yaml.safe_load((root / "pipelines/getstarted.yaml").read_text())
    assert pipeline["params"]["train"]["n_est"] == 60
    sh("mlops", "compile", cwd=root)  # params.yaml gets its header back, values unchanged
    assert yaml.safe_load((root / "params.yaml").read_text())["train"]["n_est"] == 60
    assert _due(sh, root) == set()


def test_import_never_overwrites(tmp_path: Path, sh: Sh) -> None:
    root = _project(tmp_path / "validation", sh, "validation")
    (root / "pipelines").mkdir()
    (root / "pipelines/validation.yaml").write_text("# mine\n")
    refused = sh("mlops", "import", cwd=root, check=False)
    assert refused.returncode == 2
    assert refused.stderr.splitlines()[0] == (
        "error: pipelines/validation.yaml already exists; import would overwrite it"
    )
    assert (root / "dvc.yaml").read_text() == PROJECTS["validation"]["dvc.yaml"]
    assert (root / "pipelines/validation.yaml").read_text() == "# mine\n"
    shutil.rmtree(root / "pipelines")
    sh("mlops", "import", "--name", "checks", "--params", "nested", cwd=root)
    pipeline = yaml.safe_load((root / "pipelines/checks.yaml").read_text())
    assert "params_file" not in pipeline
    sh("mlops", "compile", cwd=root)
    compiled = yaml.safe_load((root / "pipelines/checks/dvc.yaml").read_text())
    assert compiled["stages"]["validate"]["foreach"] == "${checks.datasets}"


def test_dvc_reads_every_feature_and_names_loop_copies_its_way(tmp_path: Path, sh: Sh) -> None:
    from test_dvc_features import FEATURES

    root = tmp_path / "p"
    sh("mlops", "init", str(root), cwd=tmp_path)
    build_tree(
        root,
        {
            "pipelines/feat.yaml": FEATURES,
            "configs/train.yaml": "train:\n  lr: 0.1\n",
            "data/north.csv": "a\n",
            "data/south.csv": "a\n",
            "check.py": "import sys\nopen(f'out/{sys.argv[1]}.json', 'w').write(sys.argv[2])\n",
            "out/.keep": "",
        },
    )
    sh("mlops", "compile", cwd=root)
    listed = [
        line.split()[0]
        for line in sh("dvc", "stage", "list", "--all", cwd=root).stdout.splitlines()
    ]
    feat = [s.split(":")[-1] for s in listed if s.startswith("pipelines/feat/")]
    assert feat == [
        "check@north",
        "check@south",
        "fit@lin-1",
        "fit@lin-2",
        "fit@tree-1",
        "fit@tree-2",
        "pick",
    ]
    # One copy runs alone, under DVC's own name.
    ran = _ran(
        sh("dvc", "repro", "--single-item", "pipelines/feat/dvc.yaml:check@south", cwd=root).stdout
    )
    assert ran == ["check@south"]
    assert (root / "out/south.json").read_text() == "3"
