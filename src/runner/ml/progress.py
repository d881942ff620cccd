"""Progress lines on stderr: the only output a step library may produce."""

from __future__ import annotations

import sys


def progress(step: str, message: str) -> None:
    """Print one short `step: message` line to stderr."""
    print(f"{step}: {message}", file=sys.stderr, flush=True)


def warn(step: str, message: str) -> None:
    """Print one `step: warning: message` line to stderr."""
    progress(step, f"warning: {message}")
