"""Gate bounds and `no_baseline` policies, and which of two values is the stricter.

One table for everything that compares rules: the gate holds a branch to the
base branch's stricter bound, and `mlops plan` marks a change looser or tighter.
"""

from __future__ import annotations

from typing import Literal, get_args

ABSOLUTE = ("min", "max")
CHANGE = ("max_drop", "max_rise", "max_drop_rel", "max_rise_rel")
BOUNDS = ABSOLUTE + CHANGE
# The one bound that gets stricter as it rises; every other bound is a ceiling.
_FLOORS = frozenset({"min"})

NoBaseline = Literal["fail", "absolute-only", "pass"]
NO_BASELINE: tuple[NoBaseline, ...] = get_args(NoBaseline)  # strictest first


def stricter(bound: str, a: float, b: float) -> float:
    """The stricter of two values of `bound`."""
    return max(a, b) if bound in _FLOORS else min(a, b)


def is_looser(bound: str, old: float, new: float) -> bool:
    """Does `new` let through a candidate that `old` would stop?"""
    return new < old if bound in _FLOORS else new > old


def policy_is_looser(old: NoBaseline, new: NoBaseline) -> bool:
    """Does `new` pass or skip change rules that `old` would fail?"""
    return NO_BASELINE.index(new) > NO_BASELINE.index(old)
