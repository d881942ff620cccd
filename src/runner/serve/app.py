"""The HTTP app: the Open Inference Protocol (V2) REST routes, `/metrics`, access logs.

Routes (KServe's and MLServer's V2 dataplane): `GET /v2/health/live`,
`GET /v2/health/ready`, `GET /v2`, `GET /v2/models/{name}[/versions/{v}]` and `/ready`,
`POST /v2/models/{name}[/versions/{v}]/infer`. Errors are `{"error": message}` with
400 (a bad request, naming the input), 401, 404, 413 or 503; never a traceback.
"""

from __future__ import annotations

import json
import logging
import math
import os
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import anyio.to_thread
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from runner import __version__
from runner.serve.holder import ModelHolder
from runner.serve.inputs import InputError, parse_request, to_frame
from runner.serve.loader import LoadedModel
from runner.serve.metrics import Metrics
from runner.serve.predlog import PredictionLog, Record
from runner.serve.settings import TOKEN_VAR, ServeSettings

access = logging.getLogger("mlops.serve.access")
log = logging.getLogger("mlops.serve")

_DTYPES = {"b": "BOOL", "i": "INT64", "u": "UINT64", "f": "FP64"}


def _json(body: Any, status: int = 200) -> Response:
    return Response(
        json.dumps(body, separators=(",", ":"), allow_nan=False),
        status_code=status,
        media_type="application/json",
    )


def _error(message: str, status: int) -> Response:
    return _json({"error": message}, status)


class Server:
    """The state behind the routes: the model holder, limits, metrics and the log."""

    def __init__(self, settings: ServeSettings) -> None:
        self.settings = settings
        self.holder = ModelHolder(settings)
        self.metrics = Metrics.create()
        self.token = os.environ.get(TOKEN_VAR) or None
        self.predlog: PredictionLog | None = None
        self.limiter = anyio.CapacityLimiter(1)
        if settings.predictions:
            self.predlog = PredictionLog(
                Path(settings.predictions),
                sample=settings.sample,
                queue_size=settings.queue,
                roll_bytes=settings.roll_bytes,
                roll_seconds=settings.roll_seconds,
            )

    # ------------------------------------------------------------ helpers

    def _authorised(self, request: Request) -> bool:
        if self.token is None:
            return True
        return request.headers.get("authorization", "") == f"Bearer {self.token}"

    def _model_for(self, request: Request) -> LoadedModel | Response:
        if not self._authorised(request):
            return _error("missing or wrong bearer token", 401)
        model = self.holder.model
        if model is None:
            return _error("no model loaded yet", 503)
        name = request.path_params["name"]
        if name != model.name:
            return _error(f"unknown model '{name}' (this server serves '{model.name}')", 404)
        version = request.path_params.get("version")
        if version is not None and version != model.version:
            return _error(
                f"version '{version}' of '{name}' is not served (serving {model.version})", 404
            )
        return model

    # ------------------------------------------------------------- routes

    async def live(self, request: Request) -> Response:
        return _json({"live": True})

    async def ready(self, request: Request) -> Response:
        if self.holder.model is None:
            return _json({"ready": False}, 503)
        return _json({"ready": True})

    async def server_metadata(self, request: Request) -> Response:
        if not self._authorised(request):
            return _error("missing or wrong bearer token", 401)
        return _json({"name": "mlops-runner", "version": __version__, "extensions": []})

    async def model_metadata(self, request: Request) -> Response:
        model = self._model_for(request)
        if isinstance(model, Response):
            return model
        outputs = [{"name": "predict", "datatype": _label_type(model), "shape": [-1]}]
        if model.task == "classification":
            outputs.append(
                {"name": "predict_proba", "datatype": "FP64", "shape": [-1, len(model.classes)]}
            )
        return _json(
            {
                "name": model.name,
                "versions": [model.version],
                "platform": "sklearn",
                "inputs": [
                    {
                        "name": f.name,
                        "datatype": "FP64" if f.kind == "numeric" else "BYTES",
                        "shape": [-1],
                    }
                    for f in model.features
                ],
                "outputs": outputs,
                "parameters": {"digest": model.digest, "task": model.task},
            }
        )

    async def model_ready(self, request: Request) -> Response:
        model = self._model_for(request)
        if isinstance(model, Response):
            return model
        return _json({"name": model.name, "ready": True})

    async def metrics_route(self, request: Request) -> Response:
        if not self._authorised(request):
            return _error("missing or wrong bearer token", 401)
        if self.predlog is not None:
            self.metrics.log_dropped.set(self.predlog.dropped)
        model = self.holder.model
        if model is not None:
            self.metrics.version.clear()
            self.metrics.version.labels(model.name, model.version).set(1)
        self.metrics.load_failures.set(self.holder.load_failures)
        body, content_type = self.metrics.render()
        return Response(body, media_type=content_type)

    async def infer(self, request: Request) -> Response:
        started = time.perf_counter()
        model = self._model_for(request)
        if isinstance(model, Response):
            self.metrics.errors.labels(str(model.status_code)).inc()
            return model
        body = await self._body(request)
        if isinstance(body, Response):
            self.metrics.errors.labels(str(body.status_code)).inc()
            return body
        try:
            parsed = parse_request(
                body,
                model.features,
                max_batch=self.settings.max_batch,
                classifier=model.task == "classification",
            )
        except InputError as exc:
            self.metrics.errors.labels("400").inc()
            return _error(str(exc), 400)
        request_id = parsed.id or uuid.uuid4().hex
        try:
            frame = to_frame(parsed.columns, model.features)
            # In a thread, one at a time: the event loop reads and answers other requests
            # meanwhile (scikit-learn releases the GIL in its hot loops), and predictions
            # do not compete with each other for the cores, which keeps the tail short.
            outputs, data = await anyio.to_thread.run_sync(
                _predict, model, frame, parsed.outputs, limiter=self.limiter
            )
        except Exception as exc:  # a model that fails on valid input: 500 without a traceback
            log.error("prediction failed: %s: %s", type(exc).__name__, exc)
            self.metrics.errors.labels("500").inc()
            return _error(f"the model failed on this input: {type(exc).__name__}: {exc}", 500)
        if self.predlog is not None:
            self.predlog.submit(
                Record(
                    datetime.now(timezone.utc),
                    request_id,
                    model.name,
                    model.version,
                    parsed.columns,
                    data,
                )
            )
        self.metrics.requests.labels("200").inc()
        self.metrics.rows.inc(parsed.rows)
        self.metrics.latency.observe(time.perf_counter() - started)
        request.state.model_version = model.version
        request.state.request_id = request_id
        return _json(
            {
                "model_name": model.name,
                "model_version": model.version,
                "id": request_id,
                "outputs": outputs,
            }
        )

    async def _body(self, request: Request) -> bytes | Response:
        limit = self.settings.max_body_bytes
        declared = request.headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            return _error(f"request body over the limit of {limit} bytes", 413)
        chunks: list[bytes] = []
        size = 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                return _error(f"request body over the limit of {limit} bytes", 413)
            chunks.append(chunk)
        return b"".join(chunks)

    # ---------------------------------------------------------- lifecycle

    @asynccontextmanager
    async def lifespan(self, app: Starlette) -> AsyncIterator[None]:
        model = self.holder.load_initial()
        self.metrics.version.labels(model.name, model.version).set(1)
        self.holder.start()
        if self.predlog is not None:
            self.predlog.start()
        log.info("serving %s %s", model.name, model.version)
        try:
            yield
        finally:
            self.holder.stop()
            if self.predlog is not None:
                self.predlog.close()

    def app(self) -> Starlette:
        v = "/v2/models/{name}"
        vv = "/v2/models/{name}/versions/{version}"
        routes = [
            Route("/v2/health/live", self.live),
            Route("/v2/health/ready", self.ready),
            Route("/v2", self.server_metadata),
            Route(v, self.model_metadata),
            Route(vv, self.model_metadata),
            Route(f"{v}/ready", self.model_ready),
            Route(f"{vv}/ready", self.model_ready),
            Route(f"{v}/infer", self.infer, methods=["POST"]),
            Route(f"{vv}/infer", self.infer, methods=["POST"]),
            Route("/metrics", self.metrics_route),
        ]
        app = Starlette(routes=routes, lifespan=self.lifespan)
        app.add_middleware(AccessLog)
        app.add_exception_handler(404, _not_found)
        app.add_exception_handler(405, _not_allowed)
        app.add_exception_handler(Exception, _internal)
        return app


def _label_type(model: LoadedModel) -> str:
    if model.task != "classification" or not model.classes:
        return "FP64"
    first = model.classes[0]
    if isinstance(first, bool):
        return "BOOL"
    if isinstance(first, int):
        return "INT64"
    if isinstance(first, float):
        return "FP64"
    return "BYTES"


def _predict(
    model: LoadedModel, frame: Any, wanted: tuple[str, ...]
) -> tuple[list[dict[str, Any]], dict[str, list[Any]]]:
    rows = len(frame)
    outputs: list[dict[str, Any]] = []
    data: dict[str, list[Any]] = {}
    for name in wanted:
        if name == "predict":
            values = model.predict(frame)
            kind = getattr(getattr(values, "dtype", None), "kind", "O")
            plain = [_finite(v) for v in values.tolist()]
            outputs.append(
                {
                    "name": "predict",
                    "shape": [rows],
                    "datatype": _DTYPES.get(kind, "BYTES"),
                    "data": plain,
                }
            )
            data["predict"] = plain
        else:
            proba = model.predict_proba(frame)
            rows_p = [[_finite(p) for p in row] for row in proba.tolist()]
            outputs.append(
                {
                    "name": "predict_proba",
                    "shape": [rows, len(model.classes)],
                    "datatype": "FP64",
                    "data": [p for row in rows_p for p in row],
                    "parameters": {"classes": list(model.classes)},
                }
            )
            data["predict_proba"] = rows_p
    return outputs, data


def _finite(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


async def _not_found(request: Request, exc: Exception) -> Response:
    return _error(f"no route {request.url.path}", 404)


async def _not_allowed(request: Request, exc: Exception) -> Response:
    return _error(f"{request.method} is not allowed on {request.url.path}", 405)


async def _internal(request: Request, exc: Exception) -> Response:
    log.error("internal error on %s: %s: %s", request.url.path, type(exc).__name__, exc)
    return _error(f"internal error: {type(exc).__name__}", 500)


class AccessLog:
    """One JSON line per request: method, path, status, time taken, request id, version."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = {"code": 500}

        async def send_wrapper(message: Any) -> None:
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            state = scope.get("state") or {}
            line = {
                "time": datetime.now(timezone.utc).isoformat(timespec="milliseconds"),
                "method": scope.get("method"),
                "path": scope.get("path"),
                "status": status["code"],
                "ms": round((time.perf_counter() - started) * 1000, 3),
                "client": (scope.get("client") or ("", 0))[0],
            }
            for key in ("request_id", "model_version"):
                if key in state:
                    line[key] = state[key]
            access.info(json.dumps(line, sort_keys=True))


def create_app(settings: ServeSettings) -> Starlette:
    """The ASGI app serving `settings`."""
    return Server(settings).app()


def from_environment() -> Starlette:
    """The app of a uvicorn worker process (settings in $MLOPS_SERVE_SETTINGS)."""
    _logging()
    return create_app(ServeSettings.from_environ())


def _logging() -> None:
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(message)s"))
    for name in ("mlops.serve", "mlops.serve.access"):
        logger = logging.getLogger(name)
        if not logger.handlers:
            logger.addHandler(handler)
            logger.setLevel(logging.INFO)
            logger.propagate = False
