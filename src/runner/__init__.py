"""mlops-runner: a GitOps runner for machine learning delivery."""

from __future__ import annotations

__version__ = "0.1.0"
