"""The paths people run on every save import none of dvc, pandas or scikit-learn."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

HEAVY = (
    "dvc",
    "pandas",
    "sklearn",
    "numpy",
    "scipy",
    "skops",
    "pyarrow",
    "boto3",
    "botocore",
    "uvicorn",
    "starlette",
    "prometheus_client",
    "httpx",
    "anyio",
)

_PROBE = """
import json, sys
from runner.cli import main
try:
    code = main(sys.argv[1:])
except SystemExit as exc:
    code = exc.code
loaded = sorted({m.split(".")[0] for m in sys.modules})
sys.stderr.write(json.dumps({"code": code, "loaded": loaded}) + "\\n")
"""


def _loaded(cwd: Path, *args: str) -> tuple[int, set[str]]:
    proc = subprocess.run(
        [sys.executable, "-c", _PROBE, *args], cwd=cwd, capture_output=True, text=True, check=False
    )
    report = json.loads(proc.stderr.strip().splitlines()[-1])
    return report["code"], set(report["loaded"])


@pytest.mark.parametrize(
    "args", [("--version",), ("--help",), ("validate",), ("validate", "--help")]
)
def test_no_heavy_imports(example: Path, args: tuple[str, ...]) -> None:
    code, loaded = _loaded(example, *args)
    assert code == 0
    assert loaded.isdisjoint(HEAVY), sorted(loaded & set(HEAVY))


def test_version_and_help_skip_pydantic(example: Path) -> None:
    for args in (("--version",), ("--help",)):
        _, loaded = _loaded(example, *args)
        assert "pydantic" not in loaded and "yaml" not in loaded
