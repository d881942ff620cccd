"""What a branch changes against a base ref, and which DVC stages re-run and why.

Both sides are loaded strictly and compiled by the same compiler, so stages are
compared as DVC will see them: the literal `dvc.yaml` stages, the values of the
`params.yaml` and `steps.yaml` keys each stage tracks, and the files it reads.
The base is read from git into a temporary folder; the work tree is taken as it
is, uncommitted edits included. Nothing here prints: `commands/plan.py` does.
"""

from __future__ import annotations

from runner.plan.base import load_base, resolve_base
from runner.plan.build import build_plan
from runner.plan.model import ABSENT, SECTIONS, Change, Item, Plan, Reason, Run, show

__all__ = [
    "ABSENT",
    "SECTIONS",
    "Change",
    "Item",
    "Plan",
    "Reason",
    "Run",
    "build_plan",
    "load_base",
    "resolve_base",
    "show",
]
