"""`mlops status`: desired (deployments.yaml) against actual (each target).

Unless `--quick`, each served version's files are hashed where the target
stores them and compared with the digest in its pointer (and the pointer with
the desired version's record): anything else is "tampered", and so is a
desired version whose record is not what its commit declares
(`artifact.check_declared`). Drift or tampering exits 1.
"""

from __future__ import annotations

import sys

from runner.commands.output import write_json, write_table
from runner.config.load import Workspace
from runner.deploy import promotion
from runner.deploy.promotion import target_for
from runner.deploy.targets.base import Pointer, Target
from runner.errors import CheckFailed, MlopsError
from runner.registry import artifact, versions


def _tampered(
    target: Target, serving: Pointer, resolved: versions.Version | None, quick: bool
) -> str:
    """Why what `target` serves is not what was registered, or "" when it is."""
    if resolved is not None and resolved.version == serving.version:
        recorded = artifact.digest(resolved.record.artifact.files)
        if recorded != serving.digest:
            return f"pointer digest {serving.digest[:12]}…, record says {recorded[:12]}…"
    if quick:
        return ""
    found = artifact.digest(target.manifest(serving.model, serving.version))
    if found != serving.digest:
        return f"served files hash to {found[:12]}…, pointer says {serving.digest[:12]}…"
    return ""


def run(*, ws: Workspace, format: str, quick: bool) -> int:
    rows = []
    tampered: list[str] = []
    drift: list[str] = []
    for env in ws.project.environments:
        for model in sorted(ws.deployments.get(env, {})):
            wanted = ws.deployments[env][model]
            resolved = None
            why = ""
            try:
                resolved = promotion.desired(ws, env, model)
                desired = resolved.version if resolved else "(none)"
            except MlopsError as exc:
                desired = f"unresolved: {exc.message}"
            if resolved is not None:
                try:
                    artifact.check_declared(ws.root, resolved)
                except CheckFailed as exc:
                    why, resolved = exc.message, None
            try:
                target = target_for(ws, env)
                serving = target.current(model)
                actual = serving.version if serving else "(none)"
                if serving is not None and not why:
                    why = _tampered(target, serving, resolved, quick)
            except MlopsError as exc:
                actual = f"unreachable: {exc.message}"
            state = "tampered" if why else "ok" if desired == actual else "drift"
            if why:
                tampered.append(f"{env}/{model} serves {actual}, tampered: {why}")
            elif state == "drift":
                drift.append(f"{env}/{model} should run {desired} but serves {actual}")
            rows.append(
                {
                    "env": env,
                    "model": model,
                    "wanted": wanted,
                    "desired": desired,
                    "actual": actual,
                    "state": state,
                }
            )
    if format == "json":
        write_json(rows)
    else:
        header = ("env", "model", "wanted", "desired", "actual", "state")
        write_table(header, [[str(r[k]) for k in header] for r in rows])
    if quick:
        sys.stderr.write("note: --quick: the served files were not hashed, only pointers read\n")
    if tampered:
        raise CheckFailed(
            f"{len(tampered)} tampered: {tampered[0]}"
            + (f" (and {len(drift)} drift(s))" if drift else ""),
            "a forged version record: delete the tag and register the commit again; changed "
            "files on a target: remove the version's files there, then run `mlops deploy`",
        )
    if drift:
        raise CheckFailed(
            f"{len(drift)} drift(s): {drift[0]}",
            "run `mlops deploy` (CI does after a merge to deployments.yaml)",
        )
    return 0
