"""Kubernetes manifests for environments with `serve.kubernetes`: pure, like all of compile.

One file per environment (`deploy/kubernetes/<env>/serve.yaml`) that Argo CD or Flux
can sync: per model the environment serves, a Deployment running `mlops serve` against
the environment's S3 target, a Service, and a HorizontalPodAutoscaler when
`autoscaling:` is set. Probes use the V2 health routes. Which version serves is not in
here: the pods follow the target's pointer, which `mlops deploy` moves.
"""

from __future__ import annotations

import re
from typing import Any

from runner.compile.header import header
from runner.compile.yamlout import dump
from runner.config.load import Workspace
from runner.config.models import Environment, Kubernetes, Serve
from runner.layout import DEPLOYMENTS_FILE, PROJECT_FILE, kubernetes_file

PREDICTIONS_MOUNT = "/var/lib/mlops/predictions"


def compile_kubernetes(ws: Workspace) -> list[tuple[str, str]]:
    """(path, text) of the manifests of every environment with `serve.kubernetes`."""
    files = []
    for env, config in ws.project.environments.items():
        if config.serve is None or config.serve.kubernetes is None:
            continue
        models = sorted(ws.deployments.get(env, {}))
        docs: list[dict[str, Any]] = []
        for model in models:
            docs += manifests(ws.project.project, env, model, config)
        body = "".join("---\n" + dump(d) for d in docs)
        files.append(
            (kubernetes_file(env), header(f"{PROJECT_FILE} and {DEPLOYMENTS_FILE}") + body)
        )
    return files


def _label(*parts: str) -> str:
    """A DNS-1123 name (lowercase letters, digits, '-'; at most 63 characters)."""
    text = re.sub(r"[^a-z0-9-]+", "-", "-".join(parts).lower()).strip("-")
    return text[:63].rstrip("-") or "model"


def manifests(project: str, env: str, model: str, config: Environment) -> list[dict[str, Any]]:
    """The Deployment, Service and (with autoscaling) HPA serving `model` in `env`."""
    serve = config.serve
    assert serve is not None and serve.kubernetes is not None
    kube = serve.kubernetes
    target = config.target
    name = _label(model, env)
    labels = {"app.kubernetes.io/name": name, "app.kubernetes.io/part-of": _label(project)}
    meta: dict[str, Any] = {"name": name, "labels": labels}
    if kube.namespace:
        meta["namespace"] = kube.namespace
    deployment: dict[str, Any] = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": meta,
        "spec": {
            "selector": {"matchLabels": {"app.kubernetes.io/name": name}},
            "template": {
                "metadata": {"labels": labels},
                "spec": {
                    "terminationGracePeriodSeconds": 40,
                    "containers": [_container(env, model, target, serve, kube)],
                    "volumes": [{"name": "predictions", "emptyDir": {}}],
                },
            },
        },
    }
    if kube.autoscaling is None:
        deployment["spec"] = {"replicas": kube.replicas, **deployment["spec"]}
    docs = [
        deployment,
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": meta,
            "spec": {
                "selector": {"app.kubernetes.io/name": name},
                "ports": [{"name": "http", "port": 80, "targetPort": "http"}],
            },
        },
    ]
    if kube.autoscaling is not None:
        scale = kube.autoscaling
        docs.append(
            {
                "apiVersion": "autoscaling/v2",
                "kind": "HorizontalPodAutoscaler",
                "metadata": meta,
                "spec": {
                    "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": name},
                    "minReplicas": scale.min_replicas,
                    "maxReplicas": scale.max_replicas,
                    "metrics": [
                        {
                            "type": "Resource",
                            "resource": {
                                "name": "cpu",
                                "target": {
                                    "type": "Utilization",
                                    "averageUtilization": scale.cpu_percent,
                                },
                            },
                        }
                    ],
                },
            }
        )
    return docs


def _container(env: str, model: str, target: Any, serve: Serve, kube: Kubernetes) -> dict[str, Any]:
    args = ["serve", "--target-url", target.url, "--model", model, "--host", "0.0.0.0"]
    args += ["--port", str(serve.port), "--workers", str(serve.workers)]
    if target.endpoint_url:
        args += ["--endpoint-url", target.endpoint_url]
    if serve.predictions.enabled:
        args += ["--predictions", PREDICTIONS_MOUNT]
    env_vars: list[dict[str, Any]] = []
    if target.region:
        env_vars.append({"name": "AWS_DEFAULT_REGION", "value": target.region})
    if kube.token_secret:
        env_vars.append(
            {
                "name": "MLOPS_SERVE_TOKEN",
                "valueFrom": {"secretKeyRef": {"name": kube.token_secret, "key": "token"}},
            }
        )
    resources = {"cpu": kube.resources.cpu, "memory": kube.resources.memory}

    def probe(path: str, delay: int) -> dict[str, Any]:
        return {
            "httpGet": {"path": path, "port": "http"},
            "initialDelaySeconds": delay,
            "periodSeconds": 10,
            "timeoutSeconds": 2,
            "failureThreshold": 3,
        }

    container: dict[str, Any] = {
        "name": "mlops-serve",
        "image": kube.image,
        "command": ["mlops"],
        "args": args,
        "ports": [{"name": "http", "containerPort": serve.port}],
        "readinessProbe": probe("/v2/health/ready", 5),
        "livenessProbe": probe("/v2/health/live", 15),
        "resources": {"requests": resources, "limits": resources},
        "volumeMounts": [{"name": "predictions", "mountPath": PREDICTIONS_MOUNT}],
        "securityContext": {"allowPrivilegeEscalation": False},
    }
    if env_vars:
        container["env"] = env_vars
    return container
