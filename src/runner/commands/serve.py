"""`mlops serve`: answer Open Inference Protocol (V2) requests with an environment's model."""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path

from runner.errors import UsageError
from runner.layout import predictions_dir
from runner.serve.settings import ENV_VAR, ServeSettings


def run(
    *,
    env: str | None,
    model_dir: str | None,
    target_url: str | None,
    endpoint_url: str | None,
    model: str | None,
    host: str,
    port: int | None,
    workers: int | None,
    predictions: str | None,
    no_predictions: bool,
    project_dir: str | None,
) -> int:
    _require_extra()
    settings, where, port, workers = _settings(
        env=env,
        model_dir=model_dir,
        target_url=target_url,
        endpoint_url=endpoint_url,
        model=model,
        port=port,
        workers=workers,
        predictions=predictions,
        no_predictions=no_predictions,
        project=project_dir,
    )
    from runner.serve.holder import ModelHolder

    loaded = ModelHolder(
        settings
    ).load_initial()  # fail here, with a clean message, not in a worker
    import uvicorn

    os.environ[ENV_VAR] = settings.to_json()
    sys.stdout.write(
        f"serving {loaded.name} {loaded.version} from {where} at "
        f"http://{host}:{port}/v2/models/{loaded.name} (workers: {workers}"
        + (f"; prediction log: {settings.predictions}" if settings.predictions else "")
        + ")\n"
    )
    sys.stdout.flush()
    # uvicorn drains in-flight requests on SIGTERM, runs the app's shutdown (the
    # prediction log is flushed) and then re-raises the signal to the handler it found:
    # this one, so that a stop asked for ends with exit 0.
    previous = signal.signal(signal.SIGTERM, lambda signum, frame: None)
    try:
        uvicorn.run(
            "runner.serve.app:from_environment",
            factory=True,
            host=host,
            port=port,
            workers=workers,
            access_log=False,  # the app writes one JSON line per request instead
            log_level="warning",
            timeout_graceful_shutdown=30,
        )
    finally:
        signal.signal(signal.SIGTERM, previous)
    sys.stdout.write("stopped\n")
    return 0


def _require_extra() -> None:
    """A usage error naming the extra when the server stack is not installed."""
    import importlib.util

    missing = [
        m for m in ("uvicorn", "starlette", "prometheus_client") if not importlib.util.find_spec(m)
    ]
    if missing:
        raise UsageError(
            f"mlops serve needs {', '.join(missing)}, which are not installed",
            "pip install 'mlops-runner[serve]'",
        )


def _settings(
    *,
    env: str | None,
    model_dir: str | None,
    target_url: str | None,
    endpoint_url: str | None,
    model: str | None,
    port: int | None,
    workers: int | None,
    predictions: str | None,
    no_predictions: bool,
    project: str | None,
) -> tuple[ServeSettings, str, int, int]:
    given = [
        n
        for n, v in (("--env", env), ("--model-dir", model_dir), ("--target-url", target_url))
        if v
    ]
    if len(given) != 1:
        raise UsageError(
            "give exactly one of --env, --model-dir or --target-url"
            + (f" (got {', '.join(given)})" if given else ""),
            "mlops serve --env staging",
        )
    if env is not None:
        from runner.layout import project_root
        from runner.project.workspace import open_workspace
        from runner.serve.resolve import served

        ws = open_workspace(project_root(project))
        what = served(ws, env, model)
        cfg = what.serve
        pred = cfg.predictions
        folder = predictions or pred.path or predictions_dir(env)
        logging_on = (pred.enabled or predictions is not None) and not no_predictions
        settings = ServeSettings(
            model=what.model,
            target=what.target,
            root=str(ws.root),
            poll_seconds=cfg.poll_seconds,
            max_batch=cfg.max_batch,
            max_body_bytes=int(cfg.max_body_mb * (1 << 20)),
            predictions=str(ws.root / folder) if logging_on else None,
            sample=pred.sample,
            queue=pred.queue,
            roll_bytes=int(pred.roll_mb * (1 << 20)),
            roll_seconds=pred.roll_seconds,
        )
        where = (
            f"{env} ({what.target.path if what.target.kind == 'directory' else what.target.url})"
        )
        return settings, where, port or cfg.port, workers or cfg.workers
    if model_dir is not None:
        folder_path = Path(model_dir).resolve()
        settings = ServeSettings(
            model=model or folder_path.name,
            target=None,
            model_dir=str(folder_path),
            predictions=str(Path(predictions).resolve()) if predictions else None,
        )
        return settings, str(folder_path), port or 8080, workers or 1
    from runner.config.targets import DirectoryTargetConfig, S3TargetConfig

    assert target_url is not None
    if model is None:
        raise UsageError(
            "--target-url needs --model NAME",
            "mlops serve --target-url s3://b/p --model iris-classifier",
        )
    target: DirectoryTargetConfig | S3TargetConfig
    if target_url.startswith("s3://"):
        target = S3TargetConfig(kind="s3", url=target_url, endpoint_url=endpoint_url)
    else:
        target = DirectoryTargetConfig(kind="directory", path=str(Path(target_url).resolve()))
    settings = ServeSettings(
        model=model,
        target=target,
        predictions=str(Path(predictions).resolve()) if predictions else None,
    )
    return settings, target_url, port or 8080, workers or 1
