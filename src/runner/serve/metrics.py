"""Prometheus metrics of one server process (`/metrics`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Metrics:
    registry: Any
    requests: Any
    errors: Any
    latency: Any
    rows: Any
    version: Any
    load_failures: Any
    log_dropped: Any

    @classmethod
    def create(cls) -> Metrics:
        from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

        reg = CollectorRegistry()
        return cls(
            registry=reg,
            requests=Counter(
                "mlops_serve_requests", "Inference requests answered", ["status"], registry=reg
            ),
            errors=Counter(
                "mlops_serve_errors",
                "Inference requests refused or failed",
                ["code"],
                registry=reg,
            ),
            latency=Histogram(
                "mlops_serve_latency_seconds",
                "Time to answer an inference request",
                buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
                registry=reg,
            ),
            rows=Counter("mlops_serve_rows", "Rows predicted", registry=reg),
            version=Gauge(
                "mlops_serve_model_info",
                "The version being served (1)",
                ["model", "version"],
                registry=reg,
            ),
            load_failures=Gauge(
                "mlops_serve_load_failures",
                "New versions refused (verification or load failed)",
                registry=reg,
            ),
            log_dropped=Gauge(
                "mlops_serve_prediction_log_dropped",
                "Records the prediction log dropped because its queue was full",
                registry=reg,
            ),
        )

    def render(self) -> tuple[bytes, str]:
        from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

        return generate_latest(self.registry), CONTENT_TYPE_LATEST
