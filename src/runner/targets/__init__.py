"""Deployment targets: a config model per kind (`registry`), an implementation per kind here.

`open_target` is the one way in: it turns the validated `target:` of an
environment into an object with the `base.Target` protocol.
"""

from __future__ import annotations

from pathlib import Path

from runner.targets.base import LOCK_TIMEOUT, Target
from runner.targets.directory import DirectoryTarget
from runner.targets.registry import TargetConfig
from runner.targets.s3 import S3Target

# kind -> implementation; the same keys as `registry.TARGET_KINDS` (a test checks).
TARGET_IMPLEMENTATIONS: dict[str, type[DirectoryTarget] | type[S3Target]] = {
    "directory": DirectoryTarget,
    "s3": S3Target,
}


def open_target(config: TargetConfig, root: Path, *, lock_timeout: float = LOCK_TIMEOUT) -> Target:
    """The target `config` describes; relative directory paths are below `root`."""
    return TARGET_IMPLEMENTATIONS[config.kind].from_config(config, root, lock_timeout=lock_timeout)


__all__ = ["TARGET_IMPLEMENTATIONS", "Target", "open_target"]
