"""The prediction log writer: whole parquet files, rolled by size, drops counted, sampling."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import pandas as pd

from runner.serve.predlog import PredictionLog, Record


def _record(i: int, rows: int = 2) -> Record:
    return Record(
        time=datetime(2026, 1, 1, tzinfo=timezone.utc),
        request_id=f"r{i}",
        model="m",
        version="v0.1.0",
        inputs={"a": [float(i)] * rows, "b": ["x"] * rows},
        outputs={"predict": [i] * rows},
    )


def test_every_row_lands_in_whole_files_rolled_by_size(tmp_path: Path) -> None:
    log = PredictionLog(tmp_path / "log", roll_bytes=1)  # roll after every write
    log.start()
    for i in range(5):
        assert log.submit(_record(i))
    log.close()
    files = sorted((tmp_path / "log").iterdir())
    assert files and all(f.suffix == ".parquet" and not f.name.startswith(".") for f in files)
    frame = pd.read_parquet(tmp_path / "log")
    assert sorted(set(frame["request_id"])) == [f"r{i}" for i in range(5)]
    assert len(frame) == 10 and set(frame["row"]) == {0, 1}
    assert frame["inputs"].iloc[0].startswith('{"a": ')
    assert (log.written, log.dropped) == (5, 0)


def test_a_full_queue_drops_and_counts(tmp_path: Path) -> None:
    log = PredictionLog(tmp_path / "log", queue_size=1)  # not started: nothing drains it
    assert log.submit(_record(1)) is True
    assert log.submit(_record(2)) is False
    assert log.dropped == 1


def test_sampling_zero_records_nothing(tmp_path: Path) -> None:
    log = PredictionLog(tmp_path / "log", sample=0.0, queue_size=1)
    for i in range(10):
        assert log.submit(_record(i))
    assert log.queue.empty() and log.dropped == 0
