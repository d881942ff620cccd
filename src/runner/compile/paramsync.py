"""`mlops params pull`: values changed in params.yaml through DVC, back into the YAML.

`dvc exp run -S` and `dvc exp apply` change the generated `params.yaml`. Each
value that differs from the pipeline's `params:` is written into its
`pipelines/<name>.yaml` with a round-trip edit (comments and layout kept), so
the experiment becomes a YAML diff to review, and the next compile agrees.
"""

from __future__ import annotations

from collections.abc import MutableMapping
from dataclasses import dataclass
from typing import Any

from runner import yamlio
from runner.config.load import Workspace
from runner.errors import UsageError
from runner.fsutil import write_all
from runner.layout import PARAMS_FILE, pipeline_file
from runner.project.paramsfile import params_location


@dataclass(frozen=True)
class PulledParam:
    pipeline: str
    key: str  # dotted, inside the pipeline's params:
    old: Any  # None when the pipeline file did not have it
    new: Any


def pull(ws: Workspace) -> list[PulledParam]:
    """Write every value of the params files that differs into its pipeline file; return them."""
    pulled: list[PulledParam] = []
    writes = []
    read: dict[str, Any] = {}
    for name, pfile in ws.pipelines.items():
        where = params_location(pfile)
        if where.file not in read:
            read[where.file] = _read_params(ws, where.file)
        current = read[where.file]
        if not isinstance(current, dict):
            continue
        if where.top_level:
            # Only the keys this pipeline owns: others belong to other pipelines.
            values: Any = {k: v for k, v in current.items() if k in pfile.model.params}
        else:
            values = current.get(name)
        if not isinstance(values, dict):
            continue
        found = _differences(values, pfile.model.params, "")
        if not found:
            continue

        text = _write_values(pfile.doc, [(key, new) for key, new, _ in found])
        writes.append((ws.root / pipeline_file(name), text))
        pulled += [PulledParam(name, key, old, new) for key, new, old in found]
    write_all(writes)
    return pulled


def _read_params(ws: Workspace, rel: str) -> Any:
    try:
        return yamlio.read((ws.root / rel).read_text("utf-8")) or {}
    except FileNotFoundError:
        if rel != PARAMS_FILE:
            return {}
        raise UsageError(f"{PARAMS_FILE} is missing", "run `mlops compile` first") from None
    except yamlio.YAMLError as exc:
        raise UsageError(f"{rel} is not valid YAML: {exc}", "fix it or restore it") from None


def _write_values(doc: yamlio.Document, values: list[tuple[str, Any]]) -> str:
    """`doc`'s text with each `params.<key>` set to its value.

    A scalar that is already there is replaced in place, so nothing else of the file
    moves; a new key (or a mapping or list value) goes through the round-trip editor.
    """
    import yaml

    spans: dict[tuple[int, int], tuple[int, int]] = {}
    for event in yaml.parse(doc.text, Loader=yaml.SafeLoader):
        first, last = event.start_mark, event.end_mark
        if isinstance(event, yaml.ScalarEvent) and first is not None and last is not None:
            spans[(first.line + 1, first.column + 1)] = (first.index, last.index)
    in_place: list[tuple[int, int, str]] = []
    rest: list[tuple[str, Any]] = []
    for key, value in values:
        loc = ("params", *key.split("."))
        mark = doc.values.get(loc)
        span = spans.get((mark.line, mark.col)) if mark else None
        if span is None or isinstance(value, (dict, list)):
            rest.append((key, value))
            continue
        scalar = yaml.safe_dump(value, default_flow_style=True, width=4096)
        in_place.append((*span, scalar.strip().removesuffix("...").strip()))
    text = doc.text
    for start, end, scalar in sorted(in_place, reverse=True):
        text = text[:start] + scalar + text[end:]
    if not rest:
        yamlio.parse(text, doc.path)  # the result must still load
        return text

    def change(data: MutableMapping[str, Any]) -> None:
        for key, value in rest:
            parts = key.split(".")
            node = _mapping(data, "params")
            for part in parts[:-1]:
                node = _mapping(node, part)
            node[parts[-1]] = value

    return yamlio.edit(text, doc.path, change)[0]


def _mapping(parent: MutableMapping[str, Any], key: str) -> MutableMapping[str, Any]:
    """The mapping under `key`, in the style it is written in; a new one when missing."""
    child = parent.get(key)
    if isinstance(child, MutableMapping):
        return child
    return yamlio.child_mapping(parent, key)


def _differences(new: Any, old: Any, prefix: str) -> list[tuple[str, Any, Any]]:
    """(dotted key, value in params.yaml, value in the pipeline file) for each leaf that
    params.yaml sets differently; keys only the pipeline file has are left alone."""
    if isinstance(new, dict) and isinstance(old, dict):
        out = []
        for key, value in new.items():
            where = f"{prefix}.{key}" if prefix else str(key)
            out += _differences(value, old.get(key), where)
        return out
    return [] if new == old and type(new) is type(old) else [(prefix, new, old)]
