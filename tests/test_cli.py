"""CLI meta-tests: every verb and option teaches; version, help and exit codes."""

from __future__ import annotations

import argparse
import contextlib
import importlib
import inspect
import json
import subprocess
import sys
import typing
from pathlib import Path

import jsonschema
import pytest
import yaml

from runner import __version__
from runner.cli import build_parser, main
from runner.commands.init import example_files
from runner.verbs import VERBS

from conftest import snapshot


def _subparsers(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    raise AssertionError("no verbs")


def test_every_verb_and_option_has_help() -> None:
    parser = build_parser()
    verbs = _subparsers(parser)
    assert set(verbs) == {v.name for v in VERBS}
    for name, sub in verbs.items():
        assert sub.description, name
        assert sub.epilog and "examples:" in sub.epilog and "mlops " in sub.epilog, name
        for action in sub._actions:
            assert action.help, f"{name}: {action.dest} has no help"
    for action in parser._actions:
        assert action.help, action.dest


@pytest.mark.parametrize("verb", [v.name for v in VERBS])
def test_options_match_the_run_signature(verb: str) -> None:
    """What argparse hands `run(**kwargs)` is exactly its keyword-only parameters."""
    sub = _subparsers(build_parser())[verb]
    actions = {
        a.dest: a for a in sub._actions if a.dest not in (argparse.SUPPRESS, "help", "traceback")
    }
    passed = set(actions)
    if "project" in passed:  # cli opens the workspace once and passes it as `ws`
        passed = (passed - {"project"}) | {"ws"}
    module = next(v for v in VERBS if v.name == verb).module_name
    run = importlib.import_module(module).run
    params = inspect.signature(run).parameters
    assert set(params) == passed, f"{verb}: options {sorted(passed)} vs run{sorted(params)}"
    for name, param in params.items():
        assert param.kind is inspect.Parameter.KEYWORD_ONLY, f"{verb}: {name} is not keyword-only"
        assert param.default is inspect.Parameter.empty, f"{verb}: {name} has a default"
    hints = typing.get_type_hints(run)
    for dest, action in actions.items():
        if dest == "project":
            continue
        if isinstance(action, argparse._StoreTrueAction):
            assert hints[dest] is bool, f"{verb}: --{dest} is a flag but run() takes {hints[dest]}"
        elif not action.required and action.default is None and action.nargs not in ("*", "+"):
            assert type(None) in typing.get_args(hints[dest]), f"{verb}: {dest} may be None"


@pytest.mark.parametrize("verb", [v.name for v in VERBS])
def test_help_of_each_verb(verb: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main([verb, "--help"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith(f"usage: mlops {verb}")
    assert "examples:" in out


def test_version() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "runner", "--version"], capture_output=True, text=True, check=False
    )
    assert proc.returncode == 0
    assert proc.stdout == f"mlops-runner {__version__}\n"


def test_no_verb_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([]) == 2
    assert "usage: mlops" in capsys.readouterr().err


def test_unknown_verb_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["compil"])
    assert exit_info.value.code == 2
    assert "invalid choice: 'compil'" in capsys.readouterr().err


def test_init_then_validate(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    target = tmp_path / "demo"
    assert main(["init", str(target)]) == 0
    assert main(["validate", "--project", str(target)]) == 0
    assert capsys.readouterr().out.endswith(
        "ok: iris-demo: 1 pipeline(s), 4 stage(s), 2 environment(s)\n"
    )
    for rel in ("mlops.yaml", "pipelines/iris.yaml", "deployments.yaml"):
        first = (target / rel).read_text().splitlines()[0]
        assert first.startswith("# yaml-language-server: $schema=")
        schema_path = (target / rel).parent / first.split("=", 1)[1]
        schema = json.loads(schema_path.read_text())
        jsonschema.validate(yaml.safe_load((target / rel).read_text()), schema)


def test_init_refuses_to_overwrite(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["init", str(tmp_path)]) == 0
    (tmp_path / "mlops.yaml").write_text("# mine\n")
    before = snapshot(tmp_path)
    capsys.readouterr()
    assert main(["init", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: {tmp_path / 'mlops.yaml'} already exists (and 5 more)\n")
    assert "--force" in err
    assert snapshot(tmp_path) == before
    assert main(["init", str(tmp_path), "--force"]) == 0
    assert (tmp_path / "mlops.yaml").read_text() != "# mine\n"


def test_schema_prints_valid_json_schemas(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["schema"]) == 0
    bundle = json.loads(capsys.readouterr().out)
    assert set(bundle) == {"mlops.yaml", "pipelines/<name>.yaml", "deployments.yaml"}
    files = dict(example_files())
    for name, schema in bundle.items():
        jsonschema.Draft202012Validator.check_schema(schema)
        source = {"pipelines/<name>.yaml": "pipelines/iris.yaml"}.get(name, name)
        jsonschema.validate(yaml.safe_load(files[source]), schema)
    assert main(["schema", "pipeline"]) == 0
    assert json.loads(capsys.readouterr().out)["title"] == "pipelines/<name>.yaml"


def test_schema_rejects_unknown_keys(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["schema", "pipeline"]) == 0
    schema = json.loads(capsys.readouterr().out)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"stages": {"a": {"step": "x"}}, "stagez": {}}, schema)


def test_internal_error_is_exit_3_without_traceback(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # A folder where a file is expected is not a case the loader plans for.
    (tmp_path / "mlops.yaml").mkdir()
    (tmp_path / "pipelines").mkdir()
    code = main(["validate", "--project", str(tmp_path)])
    err = capsys.readouterr().err
    assert code == 2, err
    assert "Traceback" not in err


def _children() -> set[int]:
    """This process's living child processes (Linux: /proc/self/task/*/children)."""
    pids: set[int] = set()
    for task in Path("/proc/self/task").iterdir():
        with contextlib.suppress(OSError):
            pids.update(int(pid) for pid in (task / "children").read_text().split())
    return pids


@pytest.mark.skipif(not Path("/proc/self/task").is_dir(), reason="reads Linux's /proc")
@pytest.mark.parametrize(
    "argv", [["gate", "--help"], ["gate", "nope"], ["register", "nope"], ["gate"]]
)
def test_a_gate_or_register_that_stops_first_stops_its_early_dvc(
    argv: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """gate and register start `dvc status` before parsing (`Verb.early`); when they
    stop before asking it (help, a usage error, an unknown pipeline), it is gone."""
    assert main(["init", str(tmp_path / "demo")]) == 0
    before = _children()
    code: int | str | None
    try:
        code = main([*argv, "--project", str(tmp_path / "demo")])
    except SystemExit as stop:
        code = stop.code
    assert code in (0, 2), capsys.readouterr()
    assert _children() == before
