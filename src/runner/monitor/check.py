"""`mlops monitor`'s work: fetch the reference of the version an environment runs,
read the current data, test every column, the predictions and the performance."""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from runner.config.load import PipelineFile, Workspace
from runner.config.models import Rule
from runner.config.monitor import Monitor, duration_seconds
from runner.config.reference import REFERENCE_FILE, Reference, parse
from runner.errors import ConfigError, MlopsError, UsageError, did_you_mean
from runner.layout import predictions_dir
from runner.monitor import drift, performance
from runner.monitor.current import PREDICTION_COLUMN, Current, read_file, read_log
from runner.monitor.result import ColumnResult, MonitorResult, Performance

# `monitor.data` naming the environment's prediction log.
PREDICTIONS = "predictions"


@dataclass(frozen=True)
class Deployed:
    """The version an environment runs, fetched: its reference and its model folder."""

    model: str
    version: str
    folder: Path
    reference: Reference


def settings_of(pfile: PipelineFile) -> Monitor[Rule]:
    """The pipeline's `monitor:` section, or the defaults when it has none."""
    return pfile.model.monitor or Monitor[Rule]()


def monitor(
    ws: Workspace,
    pipeline: str,
    env: str,
    *,
    data: str | None = None,
    since: str | None = None,
    now: datetime | None = None,
) -> MonitorResult:
    """Check the data `env` sees against the reference of the version it runs."""
    pfile = ws.pipeline(pipeline)
    deploy = pfile.model.deploy
    if deploy is None:
        raise UsageError(
            f"pipeline '{pipeline}' deploys no model to monitor",
            f"add a deploy: section to {pfile.doc.path}",
        )
    if env not in deploy.environments:
        raise UsageError(
            f"pipeline '{pipeline}' does not deploy to '{env}'"
            + did_you_mean(env, deploy.environments),
            f"environments it deploys to: {', '.join(deploy.environments)}",
        )
    settings = settings_of(pfile)
    now = now or datetime.now(timezone.utc)
    with tempfile.TemporaryDirectory(prefix="mlops-monitor-") as tmp:
        deployed = fetch(ws, env, deploy.model, Path(tmp))
        current = _current(ws, env, settings, deployed, data, since, now)
        return assess(ws, pfile, env, deployed, current, settings, now)


def fetch(ws: Workspace, env: str, model: str, dest: Path) -> Deployed:
    """The version `env`'s target points at, copied into `dest` and verified."""
    from runner.deploy.targets import open_target
    from runner.serve.loader import current_pointer, fetch_version
    from runner.serve.resolve import served

    what = served(ws, env, model)
    target = open_target(what.target, ws.root)
    pointer = current_pointer(target, model)
    folder = fetch_version(target, pointer, dest)
    path = folder / REFERENCE_FILE
    if not path.is_file():
        raise UsageError(
            f"{env} runs {model} {pointer.version}, which has no reference statistics "
            f"({REFERENCE_FILE}): it was trained before mlops-runner kept them",
            "retrain with this mlops-runner (`mlops run`), register and deploy the new "
            "version, then monitor it",
        )
    reference = parse(path.read_bytes(), f"{model} {pointer.version} {REFERENCE_FILE}")
    return Deployed(model, pointer.version, folder, reference)


def _current(
    ws: Workspace,
    env: str,
    settings: Monitor[Rule],
    deployed: Deployed,
    data: str | None,
    since: str | None,
    now: datetime,
) -> Current:
    if data is not None and since is not None:
        raise UsageError(
            "--since applies to the prediction log, not to --data",
            "give either --data PATH or --since DURATION",
        )
    if data is not None:
        return read_file(Path(data))
    if settings.data != PREDICTIONS:
        if since is not None:
            raise UsageError(
                f"--since applies to the prediction log, but monitor.data names {settings.data}",
                "leave out --since, or give the log's rows another way with --data",
            )
        return read_file(ws.root / settings.data)
    window = since or settings.since
    if window is not None and since is not None:
        try:
            duration_seconds(window)
        except ValueError as exc:
            raise UsageError(f"--since {window}: {exc}", "e.g. --since 24h or --since 7d") from None
    env_config = ws.project.environments[env]
    configured = env_config.serve.predictions.path if env_config.serve else None
    folder = ws.root / (configured or predictions_dir(env))
    delta = timedelta(seconds=duration_seconds(window)) if window else None
    return read_log(folder, deployed.reference, deployed.version, delta, now)


def assess(
    ws: Workspace,
    pfile: PipelineFile,
    env: str,
    deployed: Deployed,
    current: Current,
    settings: Monitor[Rule],
    now: datetime,
) -> MonitorResult:
    """The verdict on `current` against `deployed`'s reference."""
    reference = deployed.reference
    _check_overrides(pfile, settings, reference, current)
    predictions = current.predictions
    perf: Performance | None = None
    notes = list(current.notes)
    if reference.target in current.columns:
        predicted, perf, note = _performance(ws, deployed, current, settings)
        notes += [note] if note else []
        if predictions is None:
            predictions = predicted
    if predictions is None:
        notes.append(
            "the data holds no predictions: prediction drift not checked "
            f"(score it with `mlops predict`, which adds a '{PREDICTION_COLUMN}' column)"
        )
    try:
        columns = drift.check_columns(
            reference.columns,
            reference.prediction,
            current.columns,
            predictions,
            settings,
            expected_extra=(reference.target,),
            rows=current.rows,
        )
    except drift.TestMismatch as exc:
        name = str(exc).split("'")[1]
        raise ConfigError(
            [
                pfile.doc.problem(
                    ("monitor", "columns", name, "test"),
                    f"monitor.columns.{name}.test: {exc}",
                    "ks and wasserstein are for numbers, chi2 for categories; "
                    "jensenshannon and psi for both",
                )
            ]
        ) from None
    return _verdict(pfile.name, env, deployed, current, settings, columns, perf, notes, now)


def _check_overrides(
    pfile: PipelineFile, settings: Monitor[Rule], reference: Reference, current: Current
) -> None:
    known = set(reference.columns) | set(current.columns)
    problems = [
        pfile.doc.problem(
            ("monitor", "columns", name),
            f"monitor.columns: no column named '{name}' in the model or the data"
            + did_you_mean(name, sorted(known)),
            "the model's columns: " + ", ".join(reference.columns),
            prefer_key=True,
        )
        for name in settings.columns
        if name not in known
    ]
    if problems:
        raise ConfigError(problems)


def _performance(
    ws: Workspace, deployed: Deployed, current: Current, settings: Monitor[Rule]
) -> tuple[Any, Performance | None, str]:
    """The model's predictions on labelled rows and, with rules, the performance verdict."""
    import pandas as pd

    from runner.serve.loader import load_dir

    reference = deployed.reference
    missing = [name for name in reference.columns if name not in current.columns]
    if missing:
        return None, None, f"labels present, but features missing ({', '.join(missing)})"
    loaded = load_dir(deployed.folder, name=deployed.model, version=deployed.version)
    frame = pd.DataFrame({name: current.columns[name].to_pandas() for name in loaded.feature_names})
    for f in loaded.features:
        if f.kind == "numeric":
            frame[f.name] = pd.to_numeric(frame[f.name], errors="coerce").astype("float64")
        else:
            frame[f.name] = frame[f.name].astype(object).where(frame[f.name].notna(), None)
    truth = current.columns[reference.target].to_pylist()
    labelled = [i for i, v in enumerate(truth) if v is not None]
    try:
        predicted = loaded.predict(frame)
    except (ValueError, TypeError) as exc:
        return None, None, f"the model could not score the data: {str(exc).splitlines()[0]}"
    import pyarrow as pa

    as_array = pa.chunked_array([pa.array(predicted.tolist())])
    if settings.performance is None:
        return as_array, None, "labels present: add monitor.performance.rules to check performance"
    rules = settings.performance.rules
    names = sorted({r.metric for r in rules})
    proba = None
    if loaded.task == "classification" and hasattr(loaded.estimator, "predict_proba"):
        proba = loaded.predict_proba(frame.iloc[labelled])
    scores, problems = performance.measure(
        names,
        loaded.task,
        [truth[i] for i in labelled],
        predicted[labelled],
        proba,
        list(loaded.classes),
    )
    registered, label = _registered(ws, deployed)
    verdict = performance.judge(rules, scores, registered, label, len(labelled), problems)
    return as_array, verdict, ""


def _registered(ws: Workspace, deployed: Deployed) -> tuple[dict[str, Any] | None, str]:
    """The metrics recorded when the version was registered (None when unreadable)."""
    from runner.registry import versions

    label = f"{deployed.model} {deployed.version} at registration"
    try:
        return dict(versions.get(ws.root, deployed.model, deployed.version).record.metrics), label
    except MlopsError as exc:
        return None, f"{label} ({exc.message})"


def _verdict(
    pipeline: str,
    env: str,
    deployed: Deployed,
    current: Current,
    settings: Monitor[Rule],
    columns: list[ColumnResult],
    perf: Performance | None,
    notes: list[str],
    now: datetime,
) -> MonitorResult:
    features = [c for c in columns if c.role == "feature"]
    drifted = [c for c in features if c.status == "drift"]
    share = len(drifted) / len(features) if features else 0.0
    key_drift = [c.name for c in drifted if c.key]
    dataset = (bool(features) and share >= settings.drift_share) or bool(key_drift)
    schema = any(
        c.role == "added" or any(r.startswith(("missing from", "type changed")) for r in c.reasons)
        for c in columns
    )
    prediction = any(c.role == "prediction" and c.status == "drift" for c in columns)
    undecided = [c.name for c in columns if c.status == "not enough data"]
    reasons: list[str] = []
    if dataset:
        why = f"{len(drifted)} of {len(features)} columns drifted"
        if key_drift:
            why += f" (key: {', '.join(key_drift)})"
        reasons.append(f"{why}: " + ", ".join(c.name for c in drifted))
    elif drifted:
        notes.append(
            f"{len(drifted)} of {len(features)} columns drifted ("
            + ", ".join(c.name for c in drifted)
            + f"), below drift_share {settings.drift_share:g}"
        )
    if schema:
        changed = [c.name for c in columns if c.role == "added"] + [
            c.name
            for c in columns
            if any(r.startswith(("missing from", "type changed")) for r in c.reasons)
        ]
        reasons.append("schema changed: " + ", ".join(changed))
    if prediction:
        reasons.append("predictions drifted")
    if perf is not None and not perf.passed:
        failed = [f"{c.metric} {c.rule}: {c.reason}" for c in perf.checks if c.result == "fail"]
        reasons.append("performance: " + "; ".join(failed))
    if undecided and settings.not_enough_data == "fail":
        reasons.append("not enough data to decide: " + ", ".join(undecided))
    return MonitorResult(
        pipeline=pipeline,
        model=deployed.model,
        env=env,
        version=deployed.version,
        source=current.source,
        time=now.astimezone(timezone.utc).isoformat(timespec="seconds"),
        rows=current.rows,
        skipped_rows=current.skipped_rows,
        reference_rows=deployed.reference.rows,
        drift_share=share,
        drift_share_threshold=settings.drift_share,
        dataset_drift=dataset,
        schema_drift=schema,
        prediction_drift=prediction,
        undecided=undecided,
        passed=not reasons,
        reasons=reasons,
        columns=columns,
        performance=perf,
        notes=notes,
    )
