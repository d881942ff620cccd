"""Deployment targets: a config model per kind (`registry`), an implementation per kind here.

`open_target` is the one way in: it turns the validated `target:` of an
environment into an object with the `base.Target` protocol. Implementations
are imported on first use, so validating `mlops.yaml` (which imports the
config models in `registry`) does not load them.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from runner.config.targets import TargetConfig
    from runner.deploy.targets.base import Target

# kind -> "module:class" of its implementation; the same keys as `registry.TARGET_KINDS`
# (a test checks).
TARGET_IMPLEMENTATIONS: dict[str, str] = {
    "directory": "runner.deploy.targets.directory:DirectoryTarget",
    "s3": "runner.deploy.targets.s3:S3Target",
}


def implementation(kind: str) -> type[Target]:
    """The class that implements target `kind`."""
    module, _, name = TARGET_IMPLEMENTATIONS[kind].partition(":")
    cls: type[Target] = getattr(importlib.import_module(module), name)
    return cls


def open_target(config: TargetConfig, root: Path, *, lock_timeout: float | None = None) -> Target:
    """The target `config` describes; relative directory paths are below `root`."""
    from runner.deploy.targets.base import LOCK_TIMEOUT

    cls = implementation(config.kind)
    timeout = LOCK_TIMEOUT if lock_timeout is None else lock_timeout
    return cls.from_config(config, root, lock_timeout=timeout)  # type: ignore[attr-defined, no-any-return]


__all__ = ["TARGET_IMPLEMENTATIONS", "implementation", "open_target"]
