"""The last-run summary is one typed record: what `mlops run` writes, `mlops gate` reads."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from runner.layout import LAST_RUN
from runner.pipeline import summary
from runner.pipeline.summary import RunSummary

SUMMARY = RunSummary(
    ran=("iris:train", "iris:evaluate", "iris", "wine:train"),
    restored=("iris:split",),
    unchanged=("iris:ingest", "iris2:train"),
    seconds=3.2,
    metrics={"iris": {"accuracy": 0.95, "folds": 5, "ok": True}},
)


def test_round_trip(tmp_path: Path) -> None:
    summary.write(tmp_path, SUMMARY)
    text = (tmp_path / LAST_RUN).read_text("utf-8")
    assert json.loads(text)["schema"] == 1
    assert summary.read(tmp_path) == SUMMARY
    assert RunSummary.loads(text).dumps() == text


def test_the_json_keeps_its_shape() -> None:
    """Readers of the file written before the record had a schema keep working."""
    data = json.loads(SUMMARY.dumps())
    assert data == {
        "schema": 1,
        "ran": ["iris:train", "iris:evaluate", "iris", "wine:train"],
        "restored": ["iris:split"],
        "unchanged": ["iris:ingest", "iris2:train"],
        "failed": [],
        "seconds": 3.2,
        "metrics": {"iris": {"accuracy": 0.95, "folds": 5, "ok": True}},
    }


def test_stages_of_one_pipeline() -> None:
    assert SUMMARY.stages_of("iris") == {
        "ran": ["iris:train", "iris:evaluate", "iris"],
        "restored": ["iris:split"],
        "unchanged": ["iris:ingest"],
        "failed": [],
    }


UNREADABLE = [
    ("missing", None),
    ("not-json", "{"),
    ("not-an-object", "[]"),
    ("newer-schema", '{"schema": 2, "ran": []}'),
    ("unknown-key", '{"ran": [], "extra": 1}'),
    ("wrong-type", '{"ran": "iris:train"}'),
]


@pytest.mark.parametrize("text", [pytest.param(t, id=i) for i, t in UNREADABLE])
def test_unreadable_summary_is_none(tmp_path: Path, text: str | None) -> None:
    if text is not None:
        (tmp_path / LAST_RUN).parent.mkdir(parents=True)
        (tmp_path / LAST_RUN).write_text(text, "utf-8")
    assert summary.read(tmp_path) is None


def test_a_summary_without_schema_is_version_1(tmp_path: Path) -> None:
    (tmp_path / LAST_RUN).parent.mkdir(parents=True)
    (tmp_path / LAST_RUN).write_text('{"ran": ["iris"], "seconds": 1.0}', "utf-8")
    found = summary.read(tmp_path)
    assert found is not None and found.ran == ("iris",) and found.metrics == {}
