"""`mlops plan`: what a branch changes against its base, and which stages re-run and why.

Every test builds a real git repository: the `mlops init` example committed on
`main`, then edits on a branch, as a pull request would have them.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from runner.cli import main
from runner.commands.init import example_files

from conftest import build_tree

WINE = """\
description: Classify wines
params:
  train: {max_depth: 4}
stages:
  ingest:
    step: ingest
    with: {source: "sklearn:wine"}
  split:
    step: split
    with: {target: target, test_size: 0.3, seed: 1}
  train:
    step: train
    with: {estimator: sklearn.tree.DecisionTreeClassifier, params: "${train}"}
  evaluate:
    step: evaluate
    with: {metrics: [accuracy]}
"""

SCORE = """\
stages:
  prep:
    cmd: python prep.py
    deps: [prep.py, data/raw.csv]
    outs: [outputs/score/prep.csv]
  fit:
    cmd: python fit.py
    deps: [fit.py, data/extra, outputs/score/prep.csv]
    outs: [outputs/score/model.pkl]
"""


def git(cwd: Path, *args: str) -> str:
    done = subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True)
    return done.stdout


def commit(root: Path, message: str) -> str:
    git(root, "add", "-A")
    git(root, "commit", "--quiet", "-m", message)
    return git(root, "rev-parse", "HEAD").strip()


def edit(root: Path, rel: str, old: str, new: str) -> None:
    path = root / rel
    text = path.read_text(encoding="utf-8")
    assert old in text, f"{old!r} not in {rel}"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def new_repo(root: Path, files: dict[str, str], branch: str = "main") -> Path:
    build_tree(root, files)
    git(root, "init", "--quiet", f"--initial-branch={branch}")
    commit(root, "base")
    git(root, "checkout", "--quiet", "-b", "change")
    return root


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """The example project committed on main, checked out on the branch `change`."""
    return new_repo(tmp_path / "repo", dict(example_files()))


def plan(root: Path, capsys: pytest.CaptureFixture[str], *args: str) -> str:
    assert main(["plan", "--project", str(root), *args]) == 0
    captured = capsys.readouterr()
    assert captured.err == ""
    base = git(root, "merge-base", "main", "HEAD").strip() if "--base" not in args else ""
    return captured.out.replace(base[:7], "<base>") if base else captured.out


def plan_json(root: Path, capsys: pytest.CaptureFixture[str], *args: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(plan(root, capsys, "--format", "json", *args))
    return data


def runs(data: dict[str, Any]) -> dict[str, tuple[str, list[str]]]:
    return {r["stage"]: (r["status"], [x["text"] for x in r["reasons"]]) for r in data["runs"]}


def test_a_param_reruns_its_stage_and_what_reads_it(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    edit(repo, "pipelines/iris.yaml", "max_depth: 5", "max_depth: 3")
    data = plan_json(repo, capsys)
    assert data["params"] == [
        {"key": "iris.train.max_depth", "status": "changed", "old": 5, "new": 3}
    ]
    assert data["pipelines"] == [{"name": "iris", "status": "changed", "fields": ["params"]}]
    assert data["stages"] == data["options"] == data["gates"] == data["deployments"] == []
    assert runs(data) == {
        "iris:ingest": ("unchanged", []),
        "iris:split": ("unchanged", []),
        "iris:train": ("rerun", ["param iris.train.max_depth 5 -> 3"]),
        "iris:evaluate": ("rerun", ["upstream iris:train re-runs"]),
        "iris": ("rerun", ["upstream iris:train re-runs", "upstream iris:evaluate re-runs"]),
    }
    assert plan(repo, capsys) == (
        "plan: main (<base>) -> work tree\n"
        "1 pipeline changed, 1 param changed; 3 of 5 stages re-run\n"
        "\n"
        "pipelines\n"
        "  ~ iris: params\n"
        "\n"
        "params\n"
        "  ~ iris.train.max_depth: 5 -> 3\n"
        "\n"
        "re-runs\n"
        "  iris:ingest    unchanged\n"
        "  iris:split     unchanged\n"
        "  iris:train     re-runs     param iris.train.max_depth 5 -> 3\n"
        "  iris:evaluate  re-runs     upstream iris:train re-runs\n"
        "  iris           re-runs     upstream iris:train re-runs\n"
        "                             upstream iris:evaluate re-runs\n"
    )


def test_nothing_changed(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = plan(repo, capsys)
    assert out.splitlines()[1] == "no configuration changes; 0 of 5 stages re-run"
    assert plan(repo, capsys, "--format", "markdown").endswith(
        "\nUnchanged: `iris:ingest`, `iris:split`, `iris:train`, `iris:evaluate`, `iris`.\n"
    )


def test_a_step_option_reruns_its_stage(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    edit(repo, "pipelines/iris.yaml", "f1_macro]}", "f1_macro, precision_macro]}")
    data = plan_json(repo, capsys)
    assert runs(data)["iris:evaluate"] == (
        "rerun",
        ["option with.metrics [accuracy, f1_macro] -> [accuracy, f1_macro, precision_macro]"],
    )
    assert runs(data)["iris:train"] == ("unchanged", [])
    assert [o["name"] for o in data["options"]] == ["iris:evaluate"]


@pytest.mark.parametrize(
    ("old", "new", "lines"),
    [
        ("min: 0.90}", "min: 0.85}", ["~ iris accuracy min: 0.9 -> 0.85 (looser)"]),
        ("min: 0.90}", "min: 0.95}", ["~ iris accuracy min: 0.9 -> 0.95 (tighter)"]),
        ("max_drop: 0.02", "max_drop: 0.05", ["~ iris f1_macro max_drop: 0.02 -> 0.05 (looser)"]),
        (
            "{metric: accuracy, min: 0.90}",
            "{metric: accuracy, min: 0.90, max: 0.99}",
            ["+ iris accuracy max: (none) -> 0.99 (tighter)"],
        ),
        (
            "    - {metric: accuracy, min: 0.90}\n",
            "",
            ["- iris accuracy min: 0.9 -> (none) (looser)"],
        ),
        (
            "no_baseline: absolute-only",
            "no_baseline: pass",
            ["~ iris no_baseline: absolute-only -> pass (looser)"],
        ),
        ("baseline: production", "baseline: staging", ["~ iris baseline: production -> staging"]),
    ],
)
def test_gate_changes_say_looser_or_tighter(
    repo: Path, capsys: pytest.CaptureFixture[str], old: str, new: str, lines: list[str]
) -> None:
    edit(repo, "pipelines/iris.yaml", old, new)
    out = plan(repo, capsys)
    section = out.split("\ngate rules\n", 1)[1].split("\n\n", 1)[0]
    assert section.splitlines() == [f"  {line}" for line in lines]
    assert out.count("unchanged") == 5  # gates are checked after the run: nothing re-runs


def test_a_new_pipeline_is_added_with_every_stage(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    build_tree(repo, {"pipelines/wine.yaml": WINE})
    data = plan_json(repo, capsys)
    assert data["pipelines"] == [{"name": "wine", "status": "added"}]
    wine = ["wine:ingest", "wine:split", "wine:train", "wine:evaluate", "wine"]
    assert data["stages"] == [{"name": s, "status": "added"} for s in wine]
    assert data["params"] == []  # a new pipeline's params come with it
    assert runs(data) == {
        **{s: ("unchanged", []) for s in ("iris:ingest", "iris:split", "iris:train")},
        "iris:evaluate": ("unchanged", []),
        "iris": ("unchanged", []),
        **{s: ("rerun", ["new stage"]) for s in wine},
    }


def test_environments_deployments_and_settings(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    edit(repo, "deployments.yaml", "production: {}", "production: {iris-classifier: v0.1.0}")
    edit(repo, "deployments.yaml", "iris-classifier: latest", "iris-classifier: v0.2.0")
    edit(repo, "mlops.yaml", "approval: true", "approval: false")
    edit(repo, "mlops.yaml", 'python: "3.11"', 'python: "3.12"')
    edit(
        repo,
        "mlops.yaml",
        "environments:",
        "environments:\n  qa:\n    target: {kind: directory, path: .mlops/deploy/qa}",
    )
    out = plan(repo, capsys)
    assert out.splitlines()[1] == (
        "1 environment added, 1 environment changed, 2 deployments changed, "
        "1 setting changed; 0 of 5 stages re-run"
    )
    assert (
        "\nenvironments\n"
        "  + qa\n"
        "  ~ production approval: true -> false\n"
        "\n"
        "deployments\n"
        "  + production/iris-classifier: (none) -> v0.1.0\n"
        "  ~ staging/iris-classifier: latest -> v0.2.0\n"
        "\n"
        "settings\n"
        "  ~ ci.python: 3.11 -> 3.12\n"
    ) in out


def test_promotion_order_is_a_setting(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    text = (repo / "mlops.yaml").read_text(encoding="utf-8")
    staging = text[text.index("  staging:") : text.index("  production:")]
    production = text[text.index("  production:") : text.index("ci:")]
    edit(repo, "mlops.yaml", staging + production, production + staging)
    edit(repo, "mlops.yaml", "    requires: staging", "")
    data = plan_json(repo, capsys)
    assert data["settings"] == [
        {
            "key": "promotion order",
            "status": "changed",
            "old": ["staging", "production"],
            "new": ["production", "staging"],
        }
    ]


def test_an_invalid_base_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    files = dict(example_files())
    good = files["pipelines/iris.yaml"]
    files["pipelines/iris.yaml"] = good.replace("estimator:", "estimatr:")
    root = new_repo(tmp_path / "repo", files)
    build_tree(root, {"pipelines/iris.yaml": good})
    data = plan_json(root, capsys)
    assert data["note"] == (
        "the base is invalid (pipelines/iris.yaml:16:5: stages.train.with: missing required "
        "key 'estimator', and 1 more problem): compared with an empty project"
    )
    assert data["pipelines"] == [{"name": "iris", "status": "added"}]
    assert {status for status, _ in runs(data).values()} == {"rerun"}
    assert "\n> the base is invalid (" in plan(root, capsys, "--format", "markdown")


def test_no_project_at_the_base(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = new_repo(tmp_path / "repo", {"README.md": "nothing yet\n"})
    build_tree(root, dict(example_files()))
    data = plan_json(root, capsys)
    assert data["note"] == "no mlops.yaml at the base: everything is new"
    assert data["pipelines"] == [{"name": "iris", "status": "added"}]
    assert data["environments"] == [
        {"name": "staging", "status": "added"},
        {"name": "production", "status": "added"},
    ]
    assert data["deployments"] == [
        {"key": "staging/iris-classifier", "status": "added", "new": "latest"}
    ]
    assert data["settings"] == []
    assert runs(data)["iris:train"] == ("rerun", ["new stage"])


def test_source_dependencies(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    raw = "a,b\n1,2\n"
    md5 = hashlib.md5(raw.encode()).hexdigest()
    files = dict(example_files())
    files[".gitignore"] += "/data/\n"
    files |= {
        "pipelines/score.yaml": SCORE,
        "prep.py": "print('prep')\n",
        "fit.py": "print('fit')\n",
        # What `dvc repro` recorded at the base for the file git does not track.
        "pipelines/score/dvc.lock": (
            "schema: '2.0'\nstages:\n  prep:\n    cmd: python prep.py\n    deps:\n"
            f"    - path: data/raw.csv\n      hash: md5\n      md5: {md5}\n"
        ),
    }
    root = new_repo(tmp_path / "repo", files)
    build_tree(root, {"data/raw.csv": raw, "data/extra/a.txt": "x\n"})
    # Only the folder git cannot see into is in doubt.
    assert runs(plan_json(root, capsys))["score:fit"] == (
        "maybe",
        ["dep data/extra: cannot tell (a folder outside git)"],
    )
    build_tree(root, {"prep.py": "print('prep v2')\n", "data/raw.csv": raw + "3,4\n"})
    data = plan_json(root, capsys)
    assert runs(data)["score:prep"] == (
        "rerun",
        ["dep data/raw.csv changed (differs from the base's dvc.lock)", "dep prep.py changed"],
    )
    assert runs(data)["score:fit"] == (
        "rerun",
        ["dep data/extra: cannot tell (a folder outside git)", "upstream score:prep re-runs"],
    )
    assert runs(data)["iris:train"] == ("unchanged", [])


def test_a_new_untracked_file_is_a_change(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    build_tree(repo, {"pipelines/score.yaml": SCORE, "prep.py": "", "fit.py": ""})
    commit(repo, "score")
    git(repo, "checkout", "--quiet", "-b", "more")
    build_tree(repo, {"fit.py": "# new\n"})  # committed, modified
    git(repo, "rm", "--quiet", "--cached", "prep.py")  # now untracked: git sees a new file
    data = plan_json(repo, capsys, "--base", "change")
    assert "dep prep.py changed" in runs(data)["score:prep"][1]
    assert "dep fit.py changed" in runs(data)["score:fit"][1]


def test_the_branch_is_compared_with_where_it_forked(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    git(repo, "checkout", "--quiet", "main")
    edit(repo, "pipelines/iris.yaml", "n_estimators: 100", "n_estimators: 50")
    commit(repo, "main moves on")
    git(repo, "checkout", "--quiet", "change")
    edit(repo, "pipelines/iris.yaml", "max_depth: 5", "max_depth: 3")
    assert [p["key"] for p in plan_json(repo, capsys)["params"]] == ["iris.train.max_depth"]


def test_origin_main_is_the_default_base(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    git(repo, "update-ref", "refs/remotes/origin/main", "main")
    assert plan_json(repo, capsys)["base"]["ref"] == "origin/main"
    assert plan_json(repo, capsys, "--base", "HEAD")["base"]["ref"] == "HEAD"


def test_a_project_in_a_subfolder(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    files = {f"ml/{rel}": text for rel, text in example_files()}
    root = new_repo(tmp_path / "repo", {**files, "README.md": "top\n"})
    edit(root, "ml/pipelines/iris.yaml", "max_depth: 5", "max_depth: 3")
    data = plan_json(root / "ml", capsys)
    assert data["note"] is None
    assert runs(data)["iris:train"] == ("rerun", ["param iris.train.max_depth 5 -> 3"])


@pytest.mark.parametrize(
    ("setup", "args", "message"),
    [
        (
            "repo",
            ("--base", "nope"),
            "error: --base nope: no such commit\n  hint: pass a branch, tag or commit id\n",
        ),
        (
            "trunk",
            (),
            "error: neither origin/main nor main exists (ci.main_branch in mlops.yaml)\n"
            "  hint: pass the ref to compare with: mlops plan --base REF (e.g. --base HEAD~1)\n",
        ),
        (
            "no-git",
            (),
            "error: {root} is not in a git repository; plan compares the project with a git "
            "ref\n  hint: run it in a clone of the project's repository\n",
        ),
    ],
)
def test_usage_errors(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    setup: str,
    args: tuple[str, ...],
    message: str,
) -> None:
    root = tmp_path / "repo"
    if setup == "no-git":
        build_tree(root, dict(example_files()))
    else:
        new_repo(root, dict(example_files()), branch="main" if setup == "repo" else "trunk")
    assert main(["plan", "--project", str(root), *args]) == 2
    assert capsys.readouterr().err == message.format(root=root)


def test_markdown_matches_golden_file(
    repo: Path, capsys: pytest.CaptureFixture[str], golden: Callable[[str, str], None]
) -> None:
    edit(repo, "pipelines/iris.yaml", "max_depth: 5", "max_depth: 3")
    edit(repo, "pipelines/iris.yaml", "min: 0.90}", "min: 0.85}")
    edit(repo, "pipelines/iris.yaml", "f1_macro]}", "f1_macro, precision_macro]}")
    edit(repo, "deployments.yaml", "production: {}", "production: {iris-classifier: v0.1.0}")
    build_tree(repo, {"pipelines/wine.yaml": WINE})
    golden("plan/example.md", plan(repo, capsys, "--format", "markdown"))


def test_a_renamed_pipeline_is_removed_and_added(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    git(repo, "mv", "pipelines/iris.yaml", "pipelines/flower.yaml")
    data = plan_json(repo, capsys)
    assert data["pipelines"] == [
        {"name": "flower", "status": "added"},
        {"name": "iris", "status": "removed"},
    ]
    assert [(s["name"], s["status"]) for s in data["stages"]][-5:] == [
        ("iris:ingest", "removed"),
        ("iris:split", "removed"),
        ("iris:train", "removed"),
        ("iris:evaluate", "removed"),
        ("iris", "removed"),
    ]
    assert list(runs(data)) == [
        "flower:ingest",
        "flower:split",
        "flower:train",
        "flower:evaluate",
        "flower",
    ]


def test_a_changed_custom_stage(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    build_tree(repo, {"pipelines/score.yaml": SCORE, "prep.py": "", "fit.py": "", "util.py": ""})
    commit(repo, "score")
    edit(repo, "pipelines/score.yaml", "cmd: python prep.py", "cmd: python prep.py --fast")
    edit(repo, "pipelines/score.yaml", "deps: [prep.py,", "deps: [prep.py, util.py,")
    edit(repo, "pipelines/score.yaml", "outs: [outputs/score/model.pkl]", "outs: [outputs/score/m]")
    data = plan_json(repo, capsys, "--base", "HEAD")
    assert data["stages"] == [
        {"name": "score:prep", "status": "changed", "fields": ["cmd", "deps"]},
        {"name": "score:fit", "status": "changed", "fields": ["outs"]},
        {"name": "score", "status": "changed", "fields": ["deps"]},
    ]
    assert runs(data)["score:prep"] == (
        "rerun",
        [
            "cmd changed",
            "deps changed (+util.py)",
            "dep data/raw.csv: cannot tell (not in git, no dvc.lock hash)",
        ],
    )
    assert runs(data)["score:fit"][1][0] == (
        "outs changed (+outputs/score/m, -outputs/score/model.pkl)"
    )
