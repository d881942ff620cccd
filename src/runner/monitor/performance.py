"""Performance on labelled current data, against the metrics recorded at registration.

The metrics are computed by the training code's own functions (`ml.metrics`), so
`accuracy` here is exactly the `accuracy` the gate checked, and the rules are the
gates' rules, evaluated by `gates.rules` with the registered metrics as baseline.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from runner.config.models import Rule
from runner.gates.rules import Baseline, evaluate, limits_of
from runner.monitor.result import Performance, PerformanceCheck


def measure(
    names: Sequence[str],
    task: str,
    truth: list[Any],
    predicted: Any,
    proba: Any | None,
    classes: list[Any],
) -> tuple[dict[str, float], list[str]]:
    """The metrics `names` on these rows, and why any could not be computed."""
    from runner.ml.metrics import MetricUnavailable, classification_metric, regression_metric

    scores: dict[str, float] = {}
    problems: list[str] = []
    for name in names:
        try:
            if task == "classification":
                value = classification_metric(name, truth, predicted, proba, classes)
            else:
                value = regression_metric(name, truth, predicted)
        except MetricUnavailable as exc:
            problems.append(f"{name}: {exc}")
            continue
        if math.isfinite(value):
            scores[name] = round(value, 6)
        else:
            problems.append(f"{name}: undefined on these rows")
    return scores, problems


def judge(
    rules: Sequence[Rule],
    scores: Mapping[str, float],
    registered: Mapping[str, Any] | None,
    label: str,
    rows: int,
    problems: Sequence[str],
) -> Performance:
    """The rules applied to `scores`, change rules against `registered`."""
    baseline = Baseline(
        label=label,
        metrics=registered,
        reason="" if registered is not None else "the version record could not be read",
        broken=registered is None,
    )
    verdict = evaluate(limits_of(rules), scores, baseline, no_baseline="fail")
    checks = [
        PerformanceCheck(
            metric=c.metric,
            rule=c.rule,
            current=c.candidate,
            registered=c.baseline,
            result=c.result,
            reason=c.reason,
        )
        for c in verdict.checks
    ]
    return Performance(
        rows=rows,
        metrics=dict(scores),
        passed=verdict.passed,
        checks=checks,
        note="; ".join(problems),
    )
