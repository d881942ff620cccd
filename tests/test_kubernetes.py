"""The Kubernetes manifests `mlops compile` writes for environments with `serve.kubernetes`:
compared with a golden file, and validated offline against the Kubernetes schemas."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import kubernetes_validate
import pytest
import yaml

from runner.compile.generated import compile_project
from runner.project.workspace import open_workspace

KUBERNETES_VERSION = "1.30"

PRODUCTION = """    target: {kind: directory, path: .mlops/deploy/production}
"""
SERVED = """    target:
      {kind: s3, url: s3://models/iris, endpoint_url: "http://minio:9000", region: eu-west-1}
    serve:
      port: 9000
      workers: 2
      kubernetes:
        image: ghcr.io/acme/iris-serve:1.0
        namespace: ml
        token_secret: iris-token
        autoscaling: {min_replicas: 2, max_replicas: 6, cpu_percent: 60}
        resources: {cpu: "1", memory: 1Gi}
"""


def _served(example: Path) -> dict[str, str]:
    config = example / "mlops.yaml"
    text = config.read_text()
    assert PRODUCTION in text
    config.write_text(text.replace(PRODUCTION, SERVED))
    deployments = example / "deployments.yaml"
    deployments.write_text(
        deployments.read_text().replace("production: {}", "production: {iris-classifier: v0.1.0}")
    )
    return dict(compile_project(open_workspace(example)))


def test_manifests_validate_against_the_kubernetes_schemas(
    example: Path, golden: Callable[[str, str], None]
) -> None:
    files = _served(example)
    manifests = [p for p in files if p.startswith("deploy/kubernetes/")]
    assert manifests == ["deploy/kubernetes/production/serve.yaml"]
    text = files[manifests[0]]
    golden("kubernetes/production-serve.yaml", text)
    docs = [d for d in yaml.safe_load_all(text) if d is not None]
    assert [d["kind"] for d in docs] == ["Deployment", "Service", "HorizontalPodAutoscaler"]
    for doc in docs:
        kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)
    container = docs[0]["spec"]["template"]["spec"]["containers"][0]
    assert container["args"][:5] == [
        "serve",
        "--target-url",
        "s3://models/iris",
        "--model",
        "iris-classifier",
    ]
    assert container["readinessProbe"]["httpGet"]["path"] == "/v2/health/ready"
    assert container["livenessProbe"]["httpGet"]["path"] == "/v2/health/live"


def test_a_bad_manifest_is_caught_by_the_validator() -> None:
    """The check has teeth: a Deployment without its selector is refused."""
    doc = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "x"}, "spec": {}}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)


def test_no_manifests_without_serve_kubernetes(example: Path) -> None:
    files = compile_project(open_workspace(example))
    assert not [p for p, _ in files if p.startswith("deploy/")]
