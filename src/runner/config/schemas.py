"""JSON Schemas of the three YAML files, generated from the config models."""

from __future__ import annotations

import json
from typing import Any

from pydantic import TypeAdapter

from runner.config.models import Deployments, Pipeline, Project
from runner.layout import DEPLOYMENTS_FILE, PROJECT_FILE, pipeline_file

FILES = {
    "project": ("mlops.schema.json", PROJECT_FILE),
    "pipeline": ("pipeline.schema.json", pipeline_file("<name>")),
    "deployments": ("deployments.schema.json", DEPLOYMENTS_FILE),
}


def schema(kind: str) -> dict[str, Any]:
    if kind == "project":
        body = Project.model_json_schema(by_alias=True)
    elif kind == "pipeline":
        body = Pipeline.model_json_schema(by_alias=True)
    else:
        body = TypeAdapter(Deployments).json_schema(by_alias=True)
    return {
        **body,
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": FILES[kind][1],
    }


def dumps(value: Any) -> str:
    return json.dumps(value, indent=2, sort_keys=True) + "\n"
