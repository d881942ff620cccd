"""The model being served, and the watcher that swaps in what the target's pointer names.

Requests read `ModelHolder.model` once and use that object to the end, so a swap (one
reference assignment) never mixes versions inside a request. A new version is
fetched, verified and loaded on the watcher's thread while the old one serves; one
that fails is refused (logged, counted) and the old one keeps serving.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path
from typing import TYPE_CHECKING

from runner.errors import MlopsError
from runner.serve.loader import LoadedModel, current_pointer, load_dir, load_pointer
from runner.serve.settings import ServeSettings

if TYPE_CHECKING:
    from runner.deploy.targets.base import Target

log = logging.getLogger("mlops.serve")


def open_source(settings: ServeSettings) -> Target | None:
    """The target the settings name, or None for a model folder."""
    if settings.target is None:
        return None
    from runner.deploy.targets import open_target

    return open_target(settings.target, Path(settings.root))


class ModelHolder:
    """The served model, swapped atomically when the target's pointer moves."""

    def __init__(self, settings: ServeSettings) -> None:
        self.settings = settings
        self.target = open_source(settings)
        self.model: LoadedModel | None = None
        self.refused: tuple[str, str] | None = None  # (version, digest) last refused
        self.load_failures = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def load_initial(self) -> LoadedModel:
        if self.target is None:
            assert self.settings.model_dir is not None
            self.model = load_dir(Path(self.settings.model_dir), name=self.settings.model)
        else:
            pointer = current_pointer(self.target, self.settings.model)
            self.model = load_pointer(self.target, pointer)
        return self.model

    def check_once(self) -> bool:
        """Swap in the pointer's version if it moved; True when a new version now serves."""
        if self.target is None:
            return False
        try:
            pointer = current_pointer(self.target, self.settings.model)
        except MlopsError as exc:
            log.warning("cannot read the pointer: %s", exc.message)
            return False
        now = self.model
        if now is not None and (pointer.version, pointer.digest) == (now.version, now.digest):
            return False
        if self.refused == (pointer.version, pointer.digest):
            return False
        try:
            loaded = load_pointer(self.target, pointer)
        except MlopsError as exc:
            self.refused = (pointer.version, pointer.digest)
            self.load_failures += 1
            log.error(
                "refused %s %s: %s; %s keeps serving",
                pointer.model,
                pointer.version,
                exc.message,
                now.version if now else "nothing",
            )
            return False
        self.model = loaded  # the swap: one reference assignment
        log.info("now serving %s %s", loaded.name, loaded.version)
        return True

    def start(self) -> None:
        if self.target is None:
            return
        self._thread = threading.Thread(target=self._watch, name="model-watcher", daemon=True)
        self._thread.start()

    def _watch(self) -> None:
        while not self._stop.wait(self.settings.poll_seconds):
            self.check_once()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
