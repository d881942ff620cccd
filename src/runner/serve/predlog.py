"""The prediction log: what the server answered, as parquet files, written in the background.

Requests never wait for the disk: `submit` puts a record on a bounded queue and
counts a drop when it is full; one thread writes row groups to the open file and
rolls to a new one by size or age. A file is written under a hidden `.tmp` name and
renamed when closed, so a reader (`pandas.read_parquet(folder)`) only sees whole files.
"""

from __future__ import annotations

import json
import logging
import os
import queue
import random
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

log = logging.getLogger("mlops.serve")

FLUSH_SECONDS = 0.5  # how long a record may wait in memory before its row group is written


@dataclass(frozen=True)
class Record:
    """One answered request: its rows' inputs and outputs, and which version answered."""

    time: datetime
    request_id: str
    model: str
    version: str
    inputs: dict[str, list[Any]]
    outputs: dict[str, list[Any]]


def _schema() -> Any:
    import pyarrow as pa

    return pa.schema(
        [
            ("time", pa.timestamp("us", tz="UTC")),
            ("request_id", pa.string()),
            ("row", pa.int32()),
            ("model", pa.string()),
            ("version", pa.string()),
            ("inputs", pa.string()),  # one JSON object per row: feature -> value
            ("outputs", pa.string()),  # one JSON object per row: output -> value
        ]
    )


class PredictionLog:
    """A background writer of prediction records into `folder`."""

    def __init__(
        self,
        folder: Path,
        *,
        sample: float = 1.0,
        queue_size: int = 10000,
        roll_bytes: int = 64 << 20,
        roll_seconds: float = 3600.0,
    ) -> None:
        self.folder = folder
        self.sample = sample
        self.roll_bytes = roll_bytes
        self.roll_seconds = roll_seconds
        self.queue: queue.Queue[Record | None] = queue.Queue(maxsize=queue_size)
        self.dropped = 0
        self.written = 0
        self._thread = threading.Thread(target=self._run, name="prediction-log", daemon=True)
        self._writer: Any = None
        self._path: Path | None = None
        self._opened = 0.0

    def start(self) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        self._thread.start()

    def submit(self, record: Record) -> bool:
        """Queue `record` if it is sampled; False (and a counted drop) when the queue is full."""
        if self.sample < 1.0 and random.random() >= self.sample:
            return True
        try:
            self.queue.put_nowait(record)
        except queue.Full:
            self.dropped += 1
            return False
        return True

    def close(self, timeout: float = 30.0) -> None:
        """Write what is queued, close the open file and stop the thread."""
        if not self._thread.is_alive():
            return
        self.queue.put(None)
        self._thread.join(timeout)

    def _run(self) -> None:
        pending: list[Record] = []
        deadline = time.monotonic() + FLUSH_SECONDS
        stop = False
        while not stop:
            try:
                item = self.queue.get(timeout=max(0.0, deadline - time.monotonic()))
                if item is None:
                    stop = True
                else:
                    pending.append(item)
            except queue.Empty:
                pass
            if stop or time.monotonic() >= deadline or len(pending) >= 1000:
                try:
                    if pending:
                        self._write(pending)
                    self._maybe_roll(force=stop)
                except OSError as exc:  # a full or read-only disk: count, tell, go on
                    self.dropped += len(pending)
                    self._writer, self._path = None, None
                    log.error("prediction log: cannot write to %s: %s", self.folder, exc)
                pending = []
                deadline = time.monotonic() + FLUSH_SECONDS

    def _write(self, records: list[Record]) -> None:
        import pyarrow as pa
        import pyarrow.parquet as pq

        cols: dict[str, list[Any]] = {n: [] for n in _schema().names}
        for rec in records:
            rows = len(next(iter(rec.inputs.values()), []))
            for i in range(rows):
                cols["time"].append(rec.time)
                cols["request_id"].append(rec.request_id)
                cols["row"].append(i)
                cols["model"].append(rec.model)
                cols["version"].append(rec.version)
                cols["inputs"].append(_row_json(rec.inputs, i))
                cols["outputs"].append(_row_json(rec.outputs, i))
        table = pa.table(cols, schema=_schema())
        if self._writer is None:
            stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S")
            name = f"predictions-{stamp}-{os.getpid()}-{uuid.uuid4().hex[:8]}.parquet"
            self._path = self.folder / name
            self._writer = pq.ParquetWriter(self._tmp(self._path), _schema())
            self._opened = time.monotonic()
        self._writer.write_table(table)
        self.written += len(records)

    @staticmethod
    def _tmp(path: Path) -> Path:
        return path.with_name(f".{path.name}.tmp")

    def _maybe_roll(self, *, force: bool) -> None:
        if self._writer is None or self._path is None:
            return
        size = self._tmp(self._path).stat().st_size
        aged = time.monotonic() - self._opened >= self.roll_seconds
        if force or aged or size >= self.roll_bytes:
            self._writer.close()
            os.replace(self._tmp(self._path), self._path)
            self._writer, self._path = None, None


def _row_json(columns: dict[str, list[Any]], i: int) -> str:
    return json.dumps({k: _plain(v[i]) for k, v in columns.items()}, sort_keys=True)


def _plain(value: Any) -> Any:
    if isinstance(value, float) and value != value:  # NaN is not JSON
        return None
    return value
