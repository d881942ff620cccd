"""Every gate rule and edge case, with its exact verdict and reason."""

from __future__ import annotations

import math
from typing import Any

import pytest

from runner.config.models import Gates, Rule
from runner.gates.rules import Baseline, Limit, best_variant, evaluate, hold_to_base, limits_of

BASE = Baseline("production", {"acc": 0.90, "loss": 0.30, "zero": 0.0, "nan": math.nan})
NONE = Baseline("production", None, "production runs no version yet")
BROKEN = Baseline("origin/main", None, "ref 'origin/main' not found", broken=True)


def _one(
    rule: dict[str, Any],
    candidate: dict[str, Any] | None,
    baseline: Baseline = BASE,
    policy: str = "fail",
    unavailable: str = "",
) -> tuple[str, str]:
    verdict = evaluate(
        limits_of([Rule.model_validate(rule)]),
        candidate,
        baseline,
        no_baseline=policy,
        unavailable=unavailable,
    )
    assert len(verdict.checks) == 1
    check = verdict.checks[0]
    assert verdict.passed == (check.result != "fail")
    return check.result, check.reason


CASES = [
    # absolute bounds
    (
        "min-pass",
        {"metric": "acc", "min": 0.9},
        {"acc": 0.95},
        BASE,
        "fail",
        ("pass", "0.95 >= 0.9"),
    ),
    (
        "min-equal",
        {"metric": "acc", "min": 0.9},
        {"acc": 0.9},
        BASE,
        "fail",
        ("pass", "0.9 >= 0.9"),
    ),
    (
        "min-fail",
        {"metric": "acc", "min": 0.9},
        {"acc": 0.85},
        BASE,
        "fail",
        ("fail", "0.85 < 0.9"),
    ),
    (
        "max-pass",
        {"metric": "loss", "max": 0.5},
        {"loss": 0.2},
        BASE,
        "fail",
        ("pass", "0.2 <= 0.5"),
    ),
    (
        "max-fail",
        {"metric": "loss", "max": 0.5},
        {"loss": 0.7},
        BASE,
        "fail",
        ("fail", "0.7 > 0.5"),
    ),
    (
        "min-no-baseline-needed",
        {"metric": "acc", "min": 0.9},
        {"acc": 0.95},
        NONE,
        "fail",
        ("pass", "0.95 >= 0.9"),
    ),
    # absolute change against the baseline
    (
        "drop-within",
        {"metric": "acc", "max_drop": 0.02},
        {"acc": 0.89},
        BASE,
        "fail",
        ("pass", "change -0.01 within max_drop 0.02"),
    ),
    (
        "drop-exactly-at-limit",
        {"metric": "acc", "max_drop": 0.02},
        {"acc": 0.88},
        BASE,
        "fail",
        ("pass", "change -0.02 within max_drop 0.02"),
    ),
    (
        "drop-too-far",
        {"metric": "acc", "max_drop": 0.02},
        {"acc": 0.85},
        BASE,
        "fail",
        ("fail", "dropped by 0.05, more than 0.02"),
    ),
    (
        "drop-improved",
        {"metric": "acc", "max_drop": 0.02},
        {"acc": 0.97},
        BASE,
        "fail",
        ("pass", "change +0.07 within max_drop 0.02"),
    ),
    (
        "rise-within",
        {"metric": "loss", "max_rise": 0.05},
        {"loss": 0.33},
        BASE,
        "fail",
        ("pass", "change +0.03 within max_rise 0.05"),
    ),
    (
        "rise-too-far",
        {"metric": "loss", "max_rise": 0.05},
        {"loss": 0.40},
        BASE,
        "fail",
        ("fail", "rose by 0.1, more than 0.05"),
    ),
    # relative change: (candidate - baseline) / |baseline|
    (
        "drop-rel-within",
        {"metric": "acc", "max_drop_rel": 0.05},
        {"acc": 0.873},
        BASE,
        "fail",
        ("pass", "change -3.00% within max_drop_rel 5.00%"),
    ),
    (
        "drop-rel-too-far",
        {"metric": "acc", "max_drop_rel": 0.05},
        {"acc": 0.8},
        BASE,
        "fail",
        ("fail", "dropped by 11.11%, more than 5.00%"),
    ),
    (
        "rise-rel-too-far",
        {"metric": "loss", "max_rise_rel": 0.1},
        {"loss": 0.4},
        BASE,
        "fail",
        ("fail", "rose by 33.33%, more than 10.00%"),
    ),
    (
        "rise-rel-within",
        {"metric": "loss", "max_rise_rel": 0.1},
        {"loss": 0.31},
        BASE,
        "fail",
        ("pass", "change +3.33% within max_rise_rel 10.00%"),
    ),
    # zero baseline
    (
        "zero-baseline-relative",
        {"metric": "zero", "max_drop_rel": 0.1},
        {"zero": 0.5},
        BASE,
        "fail",
        ("fail", "baseline is 0: the relative change is undefined"),
    ),
    (
        "zero-baseline-absolute",
        {"metric": "zero", "max_drop": 0.1},
        {"zero": 0.5},
        BASE,
        "fail",
        ("pass", "change +0.5 within max_drop 0.1"),
    ),
    # candidate edges
    (
        "candidate-missing-key",
        {"metric": "acc", "min": 0.9},
        {"other": 1.0},
        BASE,
        "fail",
        ("fail", "candidate: no 'acc' in the metrics"),
    ),
    (
        "candidate-nan",
        {"metric": "acc", "min": 0.9},
        {"acc": math.nan},
        BASE,
        "fail",
        ("fail", "candidate: 'acc' is NaN"),
    ),
    (
        "candidate-inf",
        {"metric": "acc", "max": 0.9},
        {"acc": math.inf},
        BASE,
        "fail",
        ("fail", "candidate: 'acc' is infinite"),
    ),
    (
        "candidate-not-a-number",
        {"metric": "acc", "min": 0.9},
        {"acc": "high"},
        BASE,
        "fail",
        ("fail", "candidate: 'acc' is not a number ('high')"),
    ),
    (
        "candidate-bool",
        {"metric": "acc", "min": 0.9},
        {"acc": True},
        BASE,
        "fail",
        ("fail", "candidate: 'acc' is not a number (True)"),
    ),
    (
        "candidate-nan-change-rule",
        {"metric": "acc", "max_drop": 0.1},
        {"acc": math.nan},
        BASE,
        "pass",
        ("fail", "candidate: 'acc' is NaN"),
    ),
    # baseline edges and the no_baseline policy
    (
        "no-baseline-fail",
        {"metric": "acc", "max_drop": 0.02},
        {"acc": 0.9},
        NONE,
        "fail",
        (
            "fail",
            "no baseline (production runs no version yet); set gates.no_baseline to allow a first version",
        ),
    ),
    (
        "no-baseline-absolute-only",
        {"metric": "acc", "max_drop": 0.02},
        {"acc": 0.9},
        NONE,
        "absolute-only",
        (
            "skip",
            "no baseline (production runs no version yet); change rule not applied (no_baseline: absolute-only)",
        ),
    ),
    (
        "no-baseline-pass",
        {"metric": "acc", "max_drop": 0.02},
        {"acc": 0.9},
        NONE,
        "pass",
        ("pass", "no baseline (production runs no version yet); passes by no_baseline: pass"),
    ),
    (
        "baseline-missing-key",
        {"metric": "f1", "max_drop": 0.02},
        {"f1": 0.9},
        BASE,
        "fail",
        (
            "fail",
            "no baseline (baseline has no 'f1' in the metrics); set gates.no_baseline to allow a first version",
        ),
    ),
    (
        "baseline-missing-key-absolute-only",
        {"metric": "f1", "max_drop": 0.02},
        {"f1": 0.9},
        BASE,
        "absolute-only",
        (
            "skip",
            "no baseline (baseline has no 'f1' in the metrics); change rule not applied (no_baseline: absolute-only)",
        ),
    ),
    (
        "baseline-nan",
        {"metric": "nan", "max_drop": 0.02},
        {"nan": 0.9},
        BASE,
        "pass",
        ("fail", "baseline: 'nan' is NaN"),
    ),
    (
        "baseline-broken",
        {"metric": "acc", "max_drop": 0.02},
        {"acc": 0.9},
        BROKEN,
        "pass",
        ("fail", "baseline unavailable: ref 'origin/main' not found"),
    ),
    (
        "baseline-broken-absolute-rule",
        {"metric": "acc", "min": 0.5},
        {"acc": 0.9},
        BROKEN,
        "fail",
        ("pass", "0.9 >= 0.5"),
    ),
]


@pytest.mark.parametrize(
    ("rule", "candidate", "baseline", "policy", "expected"),
    [pytest.param(*case[1:], id=case[0]) for case in CASES],
)
def test_rule(
    rule: dict[str, Any],
    candidate: dict[str, Any],
    baseline: Baseline,
    policy: str,
    expected: tuple[str, str],
) -> None:
    assert _one(rule, candidate, baseline, policy) == expected


def test_candidate_unavailable_fails_every_rule() -> None:
    verdict = evaluate(
        limits_of([Rule(metric="acc", min=0.5, max_drop=0.1)]),
        None,
        BASE,
        unavailable="stage iris:train failed",
    )
    assert not verdict.passed
    assert [(c.rule, c.result, c.reason) for c in verdict.checks] == [
        ("min 0.5", "fail", "candidate unavailable: stage iris:train failed"),
        ("max_drop 0.1", "fail", "candidate unavailable: stage iris:train failed"),
    ]


def test_no_rules_says_so_plainly() -> None:
    verdict = evaluate([], {"acc": 0.1}, BASE)
    assert verdict.passed and verdict.checks == []
    assert verdict.notes == ["no gate rules: nothing was checked"]


def test_duplicate_rules_keep_the_stricter() -> None:
    limits = limits_of([Rule(metric="acc", min=0.8), Rule(metric="acc", min=0.9)])
    assert limits == [Limit("acc", "min", 0.9)]


def _gates(**kwargs: Any) -> Gates:
    return Gates.model_validate(kwargs)


def test_branch_cannot_loosen_a_rule() -> None:
    base = _gates(rules=[{"metric": "acc", "min": 0.9, "max_drop": 0.02}])
    branch = _gates(rules=[{"metric": "acc", "min": 0.8, "max_drop": 0.01}])
    limits, policy, notes = hold_to_base(branch, base)
    assert [(lim.bound, lim.value) for lim in limits] == [("min", 0.9), ("max_drop", 0.01)]
    assert notes == ["acc min loosened from 0.9 to 0.8 on this branch; 0.9 applies until merged"]
    assert policy == "fail"


def test_branch_cannot_remove_a_rule_or_loosen_the_policy() -> None:
    base = _gates(no_baseline="fail", rules=[{"metric": "acc", "min": 0.9}])
    branch = _gates(no_baseline="pass", rules=[{"metric": "loss", "max": 0.4}])
    limits, policy, notes = hold_to_base(branch, base)
    assert [(lim.metric, lim.bound, lim.value) for lim in limits] == [
        ("loss", "max", 0.4),
        ("acc", "min", 0.9),
    ]
    assert policy == "fail"
    assert notes == [
        "acc min 0.9 was removed on this branch; the base value applies until merged",
        "no_baseline loosened from fail to pass on this branch; fail applies until merged",
    ]


def test_branch_may_tighten_freely() -> None:
    base = _gates(rules=[{"metric": "acc", "min": 0.8}])
    branch = _gates(no_baseline="absolute-only", rules=[{"metric": "acc", "min": 0.95}])
    limits, policy, notes = hold_to_base(branch, base)
    assert [(lim.bound, lim.value) for lim in limits] == [("min", 0.95)]
    # absolute-only is looser than the base's default fail, so fail holds.
    assert policy == "fail"
    assert notes == [
        "no_baseline loosened from fail to absolute-only on this branch; fail applies until merged"
    ]


def test_held_rule_fails_the_gate_with_its_note() -> None:
    base = _gates(rules=[{"metric": "acc", "min": 0.9}])
    branch = _gates(rules=[{"metric": "acc", "min": 0.5}])
    limits, policy, _ = hold_to_base(branch, base)
    verdict = evaluate(limits, {"acc": 0.7}, BASE, no_baseline=policy)
    assert not verdict.passed
    assert verdict.checks[0].note.startswith("acc min loosened from 0.9 to 0.5")


def test_best_variant_picks_the_best_passing() -> None:
    limits = limits_of([Rule(metric="acc", min=0.8)])
    candidates = {"a": {"acc": 0.85}, "b": {"acc": 0.95}, "c": {"acc": 0.7}}
    verdicts = {k: evaluate(limits, v, BASE) for k, v in candidates.items()}
    assert best_variant(verdicts, candidates, "acc", higher_is_better=True) == "b"
    assert best_variant(verdicts, candidates, "acc", higher_is_better=False) == "a"
    failing = {
        k: evaluate(limits_of([Rule(metric="acc", min=0.99)]), v, BASE)
        for k, v in candidates.items()
    }
    assert best_variant(failing, candidates, "acc", higher_is_better=True) is None
