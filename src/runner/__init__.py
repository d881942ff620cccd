"""mlops-runner: a GitOps runner for machine learning delivery."""

from __future__ import annotations

TYPE_CHECKING = False  # not `typing`'s: importing typing is a third of `mlops --version`
if TYPE_CHECKING:
    from typing import Any

__version__ = "0.1.0"

__all__ = ["__version__", "load_model"]


def __getattr__(name: str) -> Any:
    # `runner.load_model` is imported on first use: `mlops --version` imports this
    # package and must not pay for pandas and scikit-learn.
    if name == "load_model":
        import importlib

        return importlib.import_module("runner.serve.api").load_model
    raise AttributeError(f"module 'runner' has no attribute {name!r}")
