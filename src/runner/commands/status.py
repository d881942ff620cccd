"""`mlops status`: desired (deployments.yaml) against actual (each target); drift exits 1."""

from __future__ import annotations

from runner.commands.output import write_json, write_table
from runner.config.load import Workspace
from runner.deploy import promotion
from runner.deploy.reconcile import target_for
from runner.errors import CheckFailed, MlopsError


def run(*, ws: Workspace, format: str) -> int:
    rows = []
    for env in ws.project.environments:
        for model in sorted(ws.deployments.get(env, {})):
            wanted = ws.deployments[env][model]
            try:
                resolved = promotion.desired(ws, env, model)
                desired = resolved.version if resolved else "(none)"
            except MlopsError as exc:
                desired = f"unresolved: {exc.message}"
            try:
                serving = target_for(ws, env).current(model)
                actual = serving.version if serving else "(none)"
            except MlopsError as exc:
                actual = f"unreachable: {exc.message}"
            state = "ok" if desired == actual else "drift"
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
    drift = [r for r in rows if r["state"] != "ok"]
    if drift:
        first = drift[0]
        raise CheckFailed(
            f"{len(drift)} drift(s): {first['env']}/{first['model']} should run "
            f"{first['desired']} but serves {first['actual']}",
            "run `mlops deploy` (CI does after a merge to deployments.yaml)",
        )
    return 0
