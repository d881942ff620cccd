"""Make one environment's target serve what `deployments.yaml` says.

For each model: resolve the version, and if the target does not already serve
it, check the evidence promote checks (gate passed; `requires:` satisfied unless
it moves back to an older version), fetch the exact artifact of that version
from the DVC remote, verify its sha256 against the version's record, upload it
under its own immutable key (the target reads it back), switch the pointer with
a compare-and-swap, and append an audit record. Under the target's lock, so
concurrent deploys queue.
A crash at any step leaves the previous version serving; running again
converges, and repairs a missing audit record first, whichever version it deploys.
"""

from __future__ import annotations

import datetime
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from runner import git
from runner.config.load import Workspace
from runner.deploy import promotion
from runner.deploy.targets.base import AuditRecord, Pointer, Target, TargetError
from runner.registry import artifact, versions

# Fault injection for the crash tests: exit hard just before the named step.
CRASH_ENV = "MLOPS_TEST_CRASH_AT"
STEPS = ("fetch", "upload", "switch", "audit")


@dataclass(frozen=True)
class DeployOutcome:
    env: str
    model: str
    version: str
    previous: str | None
    action: str  # "deployed", "unchanged" or "repaired" (audit record restored)


def _crash_point(step: str) -> None:
    if os.environ.get(CRASH_ENV) == step:
        os._exit(75)


def _now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="microseconds")


def reconcile(ws: Workspace, env: str, model: str, wanted: str) -> DeployOutcome:
    """Make `env` serve `model` at `wanted` ("latest" or vX.Y.Z)."""
    version = versions.find(ws.root, model, wanted, ws.project.ci.main_branch)
    artifact.check_declared(ws.root, version)
    info = version.record.artifact
    files = info.files
    if not files:
        from runner.errors import CheckFailed

        raise CheckFailed(
            f"{version.tag} has no artifact record", "register the version with `mlops register`"
        )
    new = Pointer(
        model=model, version=version.version, digest=artifact.digest(files), commit=version.commit
    )
    target = promotion.target_for(ws, env)
    actor = git.actor(ws.root)
    progress = _DeployProgress()
    try:
        with target.lock(model):
            current = progress.before = target.current(model)
            progress.read = True
            if current == new and target.has_version(model, version.version, files):
                repaired = _repair_audit(target, env, new, actor)
                return DeployOutcome(
                    env, model, new.version, new.version, "repaired" if repaired else "unchanged"
                )
            if current is not None:
                # A crash after the last switch may have left the version that served unrecorded.
                _repair_audit(target, env, current, actor)
            promotion.require_deployable(ws, env, version, current.version if current else None)
            if not target.has_version(model, version.version, files):
                _crash_point("fetch")
                with tempfile.TemporaryDirectory(prefix="mlops-deploy-") as tmp:
                    local = artifact.fetch(ws.root, version.commit, info.path, Path(tmp))
                    artifact.verify(local, files, f"{version.tag} from the DVC remote")
                    _crash_point("upload")
                    target.upload(model, version.version, local, files)
            _crash_point("switch")
            progress.switching = True
            target.switch(model, current, new)
            progress.switched = True
            _crash_point("audit")
            target.append_audit(model, _record(env, new, current, actor))
            progress.audited = True
    except TargetError as exc:
        raise _stopped(exc, target, new, progress) from exc
    return DeployOutcome(env, model, new.version, current.version if current else None, "deployed")


@dataclass
class _DeployProgress:
    """How far a deploy got, to say what the target serves when it stops."""

    before: Pointer | None = None
    read: bool = False  # whether `before` was read
    switching: bool = False
    switched: bool = False
    audited: bool = False


class DeployStopped(TargetError):
    """A deploy stopped by its target; the message says what the target serves now."""

    def __init__(self, message: str, hint: str | None, *, moved: bool | None) -> None:
        super().__init__(message, hint)
        self.moved = moved  # whether the pointer moved to the new version (None: unknown)


def _stopped(
    exc: TargetError, target: Target, new: Pointer, progress: _DeployProgress
) -> DeployStopped:
    """`exc` with the state of the target appended: what its pointer says, read again."""
    model = new.model
    if progress.switched:
        state = f"{target.describe()} serves {model} {new.version} now" + (
            "" if progress.audited else "; its audit record is written by the next `mlops deploy`"
        )
        return DeployStopped(f"{exc.message}; {state}", exc.hint, moved=True)
    try:
        now = target.current(model)
    except TargetError:
        if progress.switching:
            return DeployStopped(
                f"{exc.message}; the pointer could not be read back: {target.describe()} "
                f"serves {model} {_name(progress.before)} or {new.version}",
                "`mlops status` shows which once the target answers; "
                "run `mlops deploy` again to converge",
                moved=None,
            )
        before = f"{model} {_name(progress.before)}" if progress.read else f"{model} as before"
        return DeployStopped(
            f"{exc.message}; nothing was switched: {target.describe()} serves {before}",
            exc.hint,
            moved=False,
        )
    if now == new:  # switched, then the lock could not be released, or a late write landed
        state = f"{target.describe()} serves {model} {new.version} now"
        if not progress.audited:
            state += "; its audit record is written by the next `mlops deploy`"
        return DeployStopped(f"{exc.message}; {state}", exc.hint, moved=True)
    served = f"{target.describe()} serves {model} {_name(now)}"
    if progress.read and now != progress.before:
        served += " (switched by another deploy)"
    return DeployStopped(f"{exc.message}; nothing was switched: {served}", exc.hint, moved=False)


def _name(pointer: Pointer | None) -> str:
    return pointer.version if pointer else "nothing"


def _record(
    env: str,
    new: Pointer,
    previous: Pointer | None,
    actor: str,
    note: str = "",
    last: AuditRecord | None = None,
) -> AuditRecord:
    """The audit record of a switch from `previous` to `new`; without `previous` (a repair),
    the version the last record says was deployed."""
    before = previous.version if previous else (last.version if last else None)
    return AuditRecord(
        time=_now(),
        env=env,
        model=new.model,
        version=new.version,
        commit=new.commit,
        digest=new.digest,
        previous=before,
        actor=actor,
        note=note,
    )


def _repair_audit(target: Target, env: str, serving: Pointer, actor: str) -> bool:
    """After a crash between switching and auditing, record the switch that happened (before
    anything else is deployed, so the chain of `previous` versions has no gap)."""
    last = target.last_audit(serving.model)
    if last and last.version == serving.version and last.digest == serving.digest:
        return False
    note = "recorded after an interrupted deploy"
    target.append_audit(serving.model, _record(env, serving, None, actor, note, last))
    return True
