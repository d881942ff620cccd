"""`mlops monitor PIPELINE --env ENV`: drift and performance; exit 0 ok, 1 drift, 2 bad input."""

from __future__ import annotations

import sys
from pathlib import Path

from runner.commands.output import write_json, write_table
from runner.config.load import Workspace
from runner.errors import CheckFailed, UsageError
from runner.fsutil import write_atomic


def run(
    *,
    ws: Workspace,
    format: str,
    pipeline: str,
    env: str,
    data: str | None,
    since: str | None,
    html_path: str | None,
    markdown_path: str | None,
    record: bool,
) -> int:
    for option, path in (("--html", html_path), ("--markdown", markdown_path)):
        if path and Path(path).is_dir():
            raise UsageError(
                f"{option} {path}: is a folder, not a file", f"name a file: {option} report"
            )
    # numpy, scipy and pyarrow are imported here, by this verb only.
    from runner.deploy import drift_log
    from runner.monitor import html, report
    from runner.monitor.check import monitor

    result = monitor(ws, pipeline, env, data=data, since=since)
    if html_path:
        _write(html_path, "--html", html.render(result))
    if markdown_path:
        _write(markdown_path, "--markdown", report.markdown(result))
    if record:
        detail = "; ".join(result.reasons) or f"{result.rows} rows, no drift"
        drift_log.append(
            ws.root,
            drift_log.DriftEvent(
                time=result.time,
                model=result.model,
                env=result.env,
                version=result.version,
                verdict=result.verdict,
                detail=detail,
            ),
        )
    if format == "json":
        write_json(result.as_json())
    elif format == "markdown":
        sys.stdout.write(report.markdown(result))
    else:
        sys.stdout.write(report.headline(result) + "\n")
        write_table(report.HEADER, report.table_rows(result))
        sys.stdout.write("\n".join(report.footer(result)) + "\n")
    if not result.passed:
        raise CheckFailed(
            f"monitor {pipeline} on {env}: {result.verdict}: {result.reasons[0]}",
            "see the report above; retrain on recent data, or roll back "
            f"(`mlops rollback {result.model} --env {env}`) if the model is at fault",
        )
    return 0


def _write(path: str, option: str, text: str) -> None:
    try:
        write_atomic(Path(path), text)
    except (OSError, ValueError) as exc:
        why = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise UsageError(
            f"{option} {path}: cannot write it: {why}", f"name a writable file for {option}"
        ) from exc
