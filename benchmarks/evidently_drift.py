"""Evidently's data-drift preset on two parquet files; run by monitor_vs_evidently.py.

Runs in Evidently's own virtualenv (benchmarks/.venv-evidently), never in the
project's. Writes {column: drifted} as JSON. Reading the files is part of the
measured work, as it is for `mlops monitor`.

    benchmarks/.venv-evidently/bin/python benchmarks/evidently_drift.py REF CUR OUT
"""

from __future__ import annotations

import json
import sys

import pandas as pd
from evidently import Report
from evidently.presets import DataDriftPreset


def main() -> None:
    reference = pd.read_parquet(sys.argv[1])
    current = pd.read_parquet(sys.argv[2])
    snapshot = Report([DataDriftPreset()]).run(current_data=current, reference_data=reference)
    verdicts = {}
    for metric in snapshot.dict()["metrics"]:
        config = metric["config"]
        if not config["type"].endswith("ValueDrift"):
            continue
        value, threshold = metric["value"], config["threshold"]
        # p-value methods drift below the threshold, distances at or above it.
        p_value = "p_value" in config["method"]
        verdicts[config["column"]] = bool(value < threshold if p_value else value >= threshold)
    with open(sys.argv[3], "w", encoding="utf-8") as fh:
        json.dump(verdicts, fh, sort_keys=True)


if __name__ == "__main__":
    main()
