"""What a compiled built-in stage runs: `python -m runner.steps PIPELINE STAGE`.

The stage's options come from the generated `pipelines/<name>/steps.yaml` and
its `${...}` references are resolved against `params.yaml` now, at run time,
so `dvc exp run -S iris.train.max_depth=2` takes effect without recompiling.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from runner import yamlio
from runner.config.steps import STEPS
from runner.errors import CheckFailed, UsageError
from runner.fsutil import sha256_path, write_atomic
from runner.layout import PARAMS_FILE, ROOT_DVC_YAML, manifest_file, steps_file
from runner.project import interp


def _read_yaml(path: Path) -> Any:
    try:
        return yamlio.read(path.read_text("utf-8"))
    except FileNotFoundError:
        raise UsageError(f"{path} is missing", "run `mlops compile`") from None
    except yamlio.YAMLError as exc:
        raise UsageError(f"{path} is not valid YAML: {exc}", "run `mlops compile`") from None


def run_stage(root: Path, pipeline: str, stage: str) -> None:
    options_file = root / steps_file(pipeline)
    entries = _read_yaml(options_file) or {}
    if stage not in entries:
        raise UsageError(f"{options_file}: no built-in stage '{stage}'", "run `mlops compile`")
    entry = entries[stage]
    params = _params(root, pipeline, entry)
    try:
        resolved = interp.resolve(entry.get("with") or {}, params)
    except interp.RefError as exc:
        raise UsageError(
            f"{PARAMS_FILE}: {pipeline}: {exc}",
            f"the stage reads ${{{exc.ref}}}; restore that key in {PARAMS_FILE} or recompile",
        ) from None
    spec = STEPS[entry["step"]]
    try:
        options = spec.options.model_validate(resolved)
    except ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        where = ".".join(str(p) for p in first["loc"])
        raise UsageError(
            f"stage {pipeline}:{stage}: option {where}: {first['msg']} "
            f"(after reading {PARAMS_FILE})",
            f"check the values under '{pipeline}' in {PARAMS_FILE} (e.g. from dvc exp run -S)",
        ) from None
    from runner.ml import StepError, run_step

    inputs = {k: root / v for k, v in (entry.get("inputs") or {}).items()}
    outputs = {k: root / v for k, v in entry["outputs"].items()}
    try:
        run_step(spec.name, options, inputs, outputs)
    except StepError as exc:
        raise CheckFailed(f"stage {pipeline}:{stage}: {exc.message}", exc.hint) from None
    # DVC records params.yaml in dvc.lock after the stage: it must still hold what was used.
    _require_same_params(root, pipeline, stage, entry, params)


def _params(root: Path, pipeline: str, entry: dict[str, Any]) -> dict[str, Any]:
    params = (_read_yaml(root / PARAMS_FILE) or {}).get(pipeline) or {}
    if entry.get("overrides"):
        from runner.project.sweep import with_overrides

        params = with_overrides(params, entry["overrides"])
    return params


def _require_same_params(
    root: Path, pipeline: str, stage: str, entry: dict[str, Any], used: dict[str, Any]
) -> None:
    """Fail when a param the stage read changed in params.yaml while it ran, so that DVC
    never records a value the step did not use."""
    now = _params(root, pipeline, entry)
    for ref in dict.fromkeys(interp.refs(entry.get("with") or {})):
        key, before, after = _first_change(ref, _lookup(used, ref), _lookup(now, ref))
        if key:
            raise CheckFailed(
                f"stage {pipeline}:{stage}: {PARAMS_FILE} changed while it ran: "
                f"{pipeline}.{key} was {before!r} when it started and is {after!r} now",
                "the outputs were made with the old value and are not recorded; "
                "run `mlops run` again",
            )


def _first_change(key: str, before: Any, after: Any) -> tuple[str, Any, Any]:
    """The first leaf under `key` whose value differs ("" when none does)."""
    if isinstance(before, dict) and isinstance(after, dict):
        for sub in [*before, *(k for k in after if k not in before)]:
            found = _first_change(f"{key}.{sub}", before.get(sub), after.get(sub))
            if found[0]:
                return found
        return "", None, None
    return (key, before, after) if before != after else ("", None, None)


def _lookup(params: dict[str, Any], ref: str) -> Any:
    try:
        return interp.lookup(params, ref)
    except interp.RefError:
        return None


def write_manifest(root: Path, pipeline: str) -> None:
    """Record the sha256 of a pipeline's final outputs (the root stage's job).

    The outputs are the root `dvc.yaml` stage's deps, so DVC and the manifest
    always agree on what they are.
    """
    stage = ((_read_yaml(root / ROOT_DVC_YAML) or {}).get("stages") or {}).get(pipeline)
    if not stage:
        raise UsageError(f"{ROOT_DVC_YAML}: no stage '{pipeline}'", "run `mlops compile`")
    deps: list[str] = stage.get("deps") or []
    missing = [d for d in deps if not (root / d).exists()]
    if missing:
        raise CheckFailed(
            f"pipeline {pipeline}: output {missing[0]} is missing", "run `mlops run` again"
        )
    body = {"pipeline": pipeline, "outputs": {d: sha256_path(root / d) for d in sorted(deps)}}
    write_atomic(root / manifest_file(pipeline), json.dumps(body, indent=2, sort_keys=True) + "\n")
