"""`mlops serve` and `mlops predict` refuse bad command lines with one line and a hint."""

from __future__ import annotations

from pathlib import Path

import pytest

from runner.cli import main

CASES = [
    (
        ["serve"],
        2,
        "error: give exactly one of --env, --model-dir or --target-url\n"
        "  hint: mlops serve --env staging\n",
    ),
    (
        ["serve", "--env", "staging", "--model-dir", "m"],
        2,
        "error: give exactly one of --env, --model-dir or --target-url (got --env, --model-dir)\n"
        "  hint: mlops serve --env staging\n",
    ),
    (
        ["serve", "--env", "stagin"],
        2,
        "error: no environment named 'stagin' (did you mean 'staging'?)\n"
        "  hint: environments: staging, production\n",
    ),
    (
        ["serve", "--env", "production"],
        2,
        "error: deployments.yaml names 0 models for 'production'\n"
        "  hint: deploy a model there first\n",
    ),
    (
        ["serve", "--model-dir", "missing"],
        1,
        "error: no model folder at {root}/missing\n"
        "  hint: give the folder that holds model.skops and meta.json "
        "(e.g. outputs/iris/train/model)\n",
    ),
    (
        ["serve", "--target-url", "s3://models/iris"],
        2,
        "error: --target-url needs --model NAME\n"
        "  hint: mlops serve --target-url s3://b/p --model iris-classifier\n",
    ),
    (
        ["predict", "--env", "staging", "--input", "in.txt", "--output", "out.csv"],
        2,
        "error: in.txt: not a .csv or .parquet file\n  hint: name files *.csv or *.parquet\n",
    ),
    (
        ["predict", "--input", "in.csv", "--output", "out.csv"],
        2,
        "error: give exactly one of --env or --model-dir\n"
        "  hint: mlops predict --env staging --input in.csv --output out.csv\n",
    ),
]


@pytest.mark.parametrize(("argv", "code", "stderr"), CASES, ids=[" ".join(c[0]) for c in CASES])
def test_usage_errors(
    example: Path, capsys: pytest.CaptureFixture[str], argv: list[str], code: int, stderr: str
) -> None:
    assert main(argv) == code
    out = capsys.readouterr()
    assert (out.out, out.err) == ("", stderr.replace("{root}", str(example)))
