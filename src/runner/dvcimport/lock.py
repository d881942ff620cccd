"""Carry a hand-written project's `dvc.lock` over to the compiled layout.

DVC decides that a stage is up to date by comparing its `dvc.lock` entry with
the stage: the command, the hashes of deps and outs, and the values of its
params. The compiled stage keeps the original's name, command, paths and, with
top-level params, the original param keys, so its entry carries over as it is
and nothing re-runs that was up to date. What compile changes is changed here
too: nested params gain the pipeline's name as a prefix, and a stage without
outputs gains the stamp command and output (an empty file, created with it).
"""

from __future__ import annotations

import posixpath
from typing import Any

from runner.compile.dvcstage import stamp_command
from runner.layout import PARAMS_FILE, stage_stamp

# What `python -m runner.steps --stamp` writes (steps/__main__.py), and its md5 as DVC
# records it; the stamp file is created with exactly this text.
STAMP_TEXT = "ran\n"
STAMP_MD5 = "9162db8c1a1400373a884e82a996a5a0"


def carry_lock(
    lock: dict[str, Any],
    pipeline: str,
    stages: dict[str, Any],
    names: dict[str, str],
    *,
    base: str,
    top_level: bool,
) -> tuple[dict[str, Any], list[str]]:
    """(the pipeline's dvc.lock data, the stamp files to create) from the original lock.

    `stages` are the pipeline's translated stages, `names` maps original stage
    names (a loop's `name@key` included) to the pipeline's.
    """
    out: dict[str, Any] = {}
    stamps: list[str] = []
    own_params = posixpath.normpath(posixpath.join(base, PARAMS_FILE))
    for address, entry in (lock.get("stages") or {}).items():
        source, at, key = address.partition("@")
        if source not in names or not isinstance(entry, dict):
            continue
        new_source = names[source]
        new_name = f"{new_source}{at}{key}"
        stage = stages.get(new_source) or {}
        carried = dict(entry)
        carried = _with_base(carried, base)
        params = carried.get("params")
        if isinstance(params, dict):
            carried["params"] = {
                file: (
                    values
                    if top_level or file != own_params or not isinstance(values, dict)
                    else {f"{pipeline}.{k}": v for k, v in values.items()}
                )
                for file, values in params.items()
            }
        if not (stage.get("outs") or stage.get("metrics") or stage.get("plots")) and not at:
            stamp = stage_stamp(pipeline, new_source)
            cmd = carried.get("cmd")
            cmds = cmd if isinstance(cmd, list) else [cmd]
            carried["cmd"] = [*cmds, stamp_command(stamp)]
            carried["outs"] = [
                *(carried.get("outs") or []),
                {"path": stamp, "hash": "md5", "md5": STAMP_MD5, "size": len(STAMP_TEXT)},
            ]
            stamps.append(stamp)
        out[new_name] = carried
    return {"schema": lock.get("schema", "2.0"), "stages": out}, stamps


def _with_base(entry: dict[str, Any], base: str) -> dict[str, Any]:
    """Paths relative to the project root, as the compiled stage (wdir: ../..) writes them."""
    if not base:
        return entry
    out = dict(entry)
    for group in ("deps", "outs"):
        if isinstance(out.get(group), list):
            out[group] = [
                {**item, "path": posixpath.normpath(posixpath.join(base, item["path"]))}
                if isinstance(item, dict) and isinstance(item.get("path"), str)
                else item
                for item in out[group]
            ]
    if isinstance(out.get("params"), dict):
        out["params"] = {
            posixpath.normpath(posixpath.join(base, file)): values
            for file, values in out["params"].items()
        }
    return out
