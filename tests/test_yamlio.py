"""The one YAML module: plain reads of generated files and round-trip edits."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import MutableMapping
from pathlib import Path
from typing import Any

import pytest

from runner import yamlio
from runner.errors import ConfigError


def test_read_gives_plain_data() -> None:
    assert yamlio.read("stages:\n  a: {cmd: [x, y]}\n") == {"stages": {"a": {"cmd": ["x", "y"]}}}
    assert yamlio.read("") is None
    with pytest.raises(yamlio.YAMLError):
        yamlio.read("a: [1\n")


def _set(env: str, model: str, version: str) -> Any:
    def change(data: MutableMapping[str, Any]) -> Any:
        models = yamlio.child_mapping(data, env)
        previous = models.get(model)
        models[model] = version
        return previous

    return change


EDITS = [
    # (id, text before, env, model, version, text after, previous value)
    (
        "keeps-comments",
        "# desired state\nstaging:\n  m: latest   # follows main\nproduction:\n  m: v0.1.0\n",
        "production",
        "m",
        "v0.2.0",
        "# desired state\nstaging:\n  m: latest   # follows main\nproduction:\n  m: v0.2.0\n",
        "v0.1.0",
    ),
    (
        "empty-flow-mapping-becomes-block",
        "staging: {}\n",
        "staging",
        "m",
        "v1.0.0",
        "staging:\n  m: v1.0.0\n",
        None,
    ),
    ("empty-file", "", "staging", "m", "latest", "staging:\n  m: latest\n", None),
]


@pytest.mark.parametrize(
    ("before", "env", "model", "version", "after", "previous"),
    [pytest.param(*case[1:], id=case[0]) for case in EDITS],
)
def test_edit(
    before: str, env: str, model: str, version: str, after: str, previous: str | None
) -> None:
    assert yamlio.edit(before, "deployments.yaml", _set(env, model, version)) == (after, previous)


def test_edit_refuses_what_the_strict_loader_refuses() -> None:
    with pytest.raises(ConfigError) as info:
        yamlio.edit("a: &x {m: v1.0.0}\nb: *x\n", "deployments.yaml", _set("a", "m", "v2.0.0"))
    assert info.value.problems[0].file == "deployments.yaml"


def test_validate_does_not_load_ruamel(example: Path) -> None:
    probe = (
        "import json, sys\n"
        "from runner.cli import main\n"
        "code = main(['validate'])\n"
        "sys.stderr.write(json.dumps([code, 'ruamel' in {m.split('.')[0] for m in sys.modules}]))\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", probe], cwd=example, capture_output=True, text=True, check=False
    )
    assert json.loads(proc.stderr.strip().splitlines()[-1]) == [0, False]
