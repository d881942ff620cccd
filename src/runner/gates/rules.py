"""Gate rules: a verdict for a candidate's metrics against bounds and a baseline.

Pure functions, no I/O. Every edge fails closed with a reason unless the
pipeline's YAML says otherwise:

- a metric missing from the candidate, or NaN/infinite there: fail;
- no candidate at all (a stage failed, or metrics are stale): every rule fails;
- no baseline yet (nothing deployed, or the baseline lacks the metric): change
  rules follow `gates.no_baseline` (fail | absolute-only | pass);
- a baseline that cannot be read (unknown ref, missing version tag) or whose
  value is NaN/infinite: change rules fail;
- a zero baseline: relative rules fail (the relative change is undefined).

Changes: delta = candidate - baseline; relative = delta / |baseline|.
`max_drop` bounds how far the value may fall, `max_rise` how far it may rise.
Comparisons allow 1e-9 of floating-point slack, so 0.95 - 0.93 passes `max_drop: 0.02`.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from runner.config.bounds import ABSOLUTE, BOUNDS, NoBaseline, policy_is_looser, stricter
from runner.config.models import Gates, Rule
from runner.config.step_options import direction

EPSILON = 1e-9

Result = Literal["pass", "fail", "skip"]


@dataclass(frozen=True)
class Baseline:
    """What the candidate is compared with."""

    label: str  # e.g. "production: iris-classifier v0.3.1 (abc1234)" or "origin/main (abc1234)"
    metrics: Mapping[str, Any] | None  # None: there is no baseline
    reason: str = ""  # why there is none, or why it is broken
    broken: bool = False  # the baseline should exist but cannot be read: fail closed
    commit: str | None = None


@dataclass(frozen=True)
class Limit:
    """One bound of one rule, as applied (possibly held to the base branch's value)."""

    metric: str
    bound: str
    value: float
    note: str = ""  # set when the base branch's stricter value applies


@dataclass(frozen=True)
class Check:
    metric: str
    rule: str  # "min 0.9", "max_drop 0.02"
    candidate: float | None
    baseline: float | None
    delta: float | None
    result: Result
    reason: str
    note: str = ""


@dataclass(frozen=True)
class Verdict:
    passed: bool
    checks: list[Check]
    notes: list[str] = field(default_factory=list)

    @property
    def failed(self) -> list[Check]:
        return [c for c in self.checks if c.result == "fail"]


# ----------------------------------------------------------- rules to limits


def limits_of(rules: Iterable[Rule]) -> list[Limit]:
    """Flatten rules into one limit per (metric, bound); duplicates keep the stricter."""
    out: dict[tuple[str, str], Limit] = {}
    for rule in rules:
        for bound in BOUNDS:
            value = getattr(rule, bound)
            if value is None:
                continue
            key = (rule.metric, bound)
            if key in out:
                value = stricter(bound, out[key].value, value)
            out[key] = Limit(rule.metric, bound, float(value))
    return list(out.values())


def hold_to_base(branch: Gates | None, base: Gates | None) -> tuple[list[Limit], str, list[str]]:
    """The limits and no-baseline policy to apply on a branch, and notes on what was held.

    A pull request cannot lower its own bar: each bound takes the stricter of the
    base branch's value and the branch's, and a bound the branch removed stays.
    The looser value takes effect once merged.
    """
    mine = {(lim.metric, lim.bound): lim for lim in limits_of(branch.rules if branch else [])}
    theirs = {(lim.metric, lim.bound): lim for lim in limits_of(base.rules if base else [])}
    notes: list[str] = []
    out: list[Limit] = []
    for key in [*mine, *(k for k in theirs if k not in mine)]:
        metric, bound = key
        if key not in mine:
            held = theirs[key]
            note = (
                f"{metric} {bound} {_num(held.value)} was removed on this branch; "
                "the base value applies until merged"
            )
            out.append(Limit(metric, bound, held.value, note))
            notes.append(note)
            continue
        lim = mine[key]
        if key in theirs:
            held_value = stricter(bound, lim.value, theirs[key].value)
            if held_value != lim.value:
                note = (
                    f"{metric} {bound} loosened from {_num(theirs[key].value)} to "
                    f"{_num(lim.value)} on this branch; {_num(held_value)} applies until merged"
                )
                out.append(Limit(metric, bound, held_value, note))
                notes.append(note)
                continue
        out.append(lim)
    policy: NoBaseline = branch.no_baseline if branch else "fail"
    if base is not None and policy_is_looser(base.no_baseline, policy):
        note = (
            f"no_baseline loosened from {base.no_baseline} to {policy} on this branch; "
            f"{base.no_baseline} applies until merged"
        )
        notes.append(note)
        policy = base.no_baseline
    return out, policy, notes


# ---------------------------------------------------------------- evaluation


def _num(value: float) -> str:
    return f"{value:.6g}"


def _value(metrics: Mapping[str, Any] | None, metric: str) -> tuple[float | None, str]:
    """A metric as a finite float, or None and why not."""
    if metrics is None:
        return None, "no metrics"
    if metric not in metrics:
        return None, f"no '{metric}' in the metrics"
    raw = metrics[metric]
    if isinstance(raw, bool) or not isinstance(raw, (int, float)):
        return None, f"'{metric}' is not a number ({raw!r})"
    value = float(raw)
    if math.isnan(value):
        return None, f"'{metric}' is NaN"
    if math.isinf(value):
        return None, f"'{metric}' is infinite"
    return value, ""


def evaluate(
    limits: Iterable[Limit],
    candidate: Mapping[str, Any] | None,
    baseline: Baseline,
    *,
    no_baseline: str = "fail",
    unavailable: str = "",
) -> Verdict:
    """Apply every limit; `candidate=None` with `unavailable` saying why (e.g. a failed stage)."""
    limits = list(limits)
    checks = [_check(lim, candidate, baseline, no_baseline, unavailable) for lim in limits]
    notes = [lim.note for lim in limits if lim.note]
    if not checks:
        return Verdict(True, [], ["no gate rules: nothing was checked"])
    return Verdict(all(c.result != "fail" for c in checks), checks, notes)


def _check(
    lim: Limit,
    candidate: Mapping[str, Any] | None,
    baseline: Baseline,
    policy: str,
    unavailable: str,
) -> Check:
    rule = f"{lim.bound} {_num(lim.value)}"

    def done(
        result: Result,
        reason: str,
        cand: float | None = None,
        base: float | None = None,
        delta: float | None = None,
    ) -> Check:
        return Check(lim.metric, rule, cand, base, delta, result, reason, lim.note)

    if candidate is None:
        return done("fail", f"candidate unavailable: {unavailable or 'no metrics'}")
    cand, why = _value(candidate, lim.metric)
    if cand is None:
        return done("fail", f"candidate: {why}")
    if lim.bound in ABSOLUTE:
        # The baseline is shown for context; absolute bounds do not depend on it.
        context = None if baseline.broken else _value(baseline.metrics, lim.metric)[0]
        context_delta = None if context is None else cand - context
        if lim.bound == "min":
            ok = cand >= lim.value - EPSILON
            reason = f"{_num(cand)} {'>=' if ok else '<'} {_num(lim.value)}"
        else:
            ok = cand <= lim.value + EPSILON
            reason = f"{_num(cand)} {'<=' if ok else '>'} {_num(lim.value)}"
        return done("pass" if ok else "fail", reason, cand, context, context_delta)
    # Change rules need a baseline.
    if baseline.broken:
        return done("fail", f"baseline unavailable: {baseline.reason}", cand)
    base, why = _value(baseline.metrics, lim.metric)
    if base is None:
        missing = baseline.metrics is None or lim.metric not in baseline.metrics
        if not missing:  # present but NaN, infinite or not a number: broken data
            return done("fail", f"baseline: {why}", cand)
        reason = baseline.reason if baseline.metrics is None else f"baseline has {why}"
        if policy == "pass":
            return done("pass", f"no baseline ({reason}); passes by no_baseline: pass", cand)
        if policy == "absolute-only":
            return done(
                "skip",
                f"no baseline ({reason}); change rule not applied (no_baseline: absolute-only)",
                cand,
            )
        return done(
            "fail",
            f"no baseline ({reason}); set gates.no_baseline to allow a first version",
            cand,
        )
    delta = cand - base
    if lim.bound in ("max_drop_rel", "max_rise_rel"):
        if base == 0:
            return done(
                "fail", "baseline is 0: the relative change is undefined", cand, base, delta
            )
        change = delta / abs(base)
        shown = f"{change:+.2%}"
    else:
        change = delta
        shown = f"{delta:+.6g}"
    if lim.bound.startswith("max_drop"):
        ok = -change <= lim.value + EPSILON
        verb = "dropped"
    else:
        ok = change <= lim.value + EPSILON
        verb = "rose"
    amount = -change if lim.bound.startswith("max_drop") else change
    if lim.bound.endswith("_rel"):
        limit_text = f"{lim.value:.2%}"
        amount_text = f"{amount:.2%}"
    else:
        limit_text = _num(lim.value)
        amount_text = _num(amount)
    if ok:
        reason = f"change {shown} within {lim.bound} {limit_text}"
    else:
        reason = f"{verb} by {amount_text}, more than {limit_text}"
    return done("pass" if ok else "fail", reason, cand, base, delta)


def select_variant(
    gates: Gates | None,
    limits: Sequence[Limit],
    verdicts: Mapping[str, Verdict],
    candidates: Mapping[str, Mapping[str, Any] | None],
) -> tuple[str | None, str | None]:
    """The metric that picks among sweep variants, and the best passing variant by it.

    The metric is `gates.select`, else the first rule's. Which way is better:
    `select_direction`, else a rule's `direction:` for that metric, else the
    metric's known default, else higher.
    """
    metric = (gates.select if gates else None) or (limits[0].metric if limits else None)
    if metric is None:
        return None, None
    better = (gates.select_direction or gates.direction_of(metric)) if gates else direction(metric)
    return metric, best_variant(verdicts, candidates, metric, better != "lower")


def best_variant(
    verdicts: Mapping[str, Verdict],
    candidates: Mapping[str, Mapping[str, Any] | None],
    metric: str,
    higher_is_better: bool,
) -> str | None:
    """The passing variant with the best `metric`; ties go to the first declared."""
    best: tuple[float, str] | None = None
    for name, verdict in verdicts.items():
        if not verdict.passed:
            continue
        value, _ = _value(candidates.get(name), metric)
        if value is None:
            continue
        score = value if higher_is_better else -value
        if best is None or score > best[0]:
            best = (score, name)
    return best[1] if best else None
