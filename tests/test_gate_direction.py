"""A rule's `direction:` decides which way is better for its metric (bug: it was never read).

It picks the best sweep variant when `select_direction` is not given, also for a
custom metric that has no default, and rules on one metric must agree on it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from runner.cli import main
from runner.config.models import Gates
from runner.gates.rules import Baseline, evaluate, hold_to_base, select_variant

NO_BASELINE = Baseline("none", None, "no baseline")

CANDIDATES = {
    "a": {"accuracy": 0.91, "rmse": 0.30, "latency": 40.0},
    "b": {"accuracy": 0.95, "rmse": 0.20, "latency": 45.0},
    "c": {"accuracy": 0.93, "rmse": 0.25, "latency": 30.0},
}

SELECT = [
    # (id, gates, expected (metric, selected))
    (
        "known-default-higher",
        {"select": "accuracy", "rules": [{"metric": "accuracy", "min": 0.9}]},
        ("accuracy", "b"),
    ),
    (
        "known-default-lower",
        {"select": "rmse", "rules": [{"metric": "rmse", "max": 1.0}]},
        ("rmse", "b"),
    ),
    (
        "rule-direction-for-custom-metric",
        {"select": "latency", "rules": [{"metric": "latency", "max": 50, "direction": "lower"}]},
        ("latency", "c"),
    ),
    (
        "rule-direction-overrides-default",
        {"select": "accuracy", "rules": [{"metric": "accuracy", "min": 0.9, "direction": "lower"}]},
        ("accuracy", "a"),
    ),
    (
        "direction-on-a-later-rule-of-the-metric",
        {
            "select": "latency",
            "rules": [
                {"metric": "latency", "max": 50},
                {"metric": "accuracy", "min": 0.9},
                {"metric": "latency", "max_rise": 10, "direction": "lower"},
            ],
        },
        ("latency", "c"),
    ),
    (
        "first-rule-metric-without-select",
        {"rules": [{"metric": "latency", "max": 50, "direction": "lower"}]},
        ("latency", "c"),
    ),
    (
        "select-direction-wins",
        {
            "select": "latency",
            "select_direction": "higher",
            "rules": [{"metric": "accuracy", "min": 0.9, "direction": "lower"}],
        },
        ("latency", "b"),
    ),
    (
        "another-metric's-direction-does-not-apply",
        {
            "select": "latency",
            "rules": [{"metric": "accuracy", "min": 0.9, "direction": "lower"}],
        },
        ("latency", "b"),
    ),
]


@pytest.mark.parametrize(("gates", "expected"), [pytest.param(*c[1:], id=c[0]) for c in SELECT])
def test_select_variant(gates: dict[str, Any], expected: tuple[str, str]) -> None:
    model = Gates.model_validate(gates)
    limits, _, _ = hold_to_base(model, None)
    verdicts = {
        name: evaluate(limits, values, NO_BASELINE, no_baseline="pass")
        for name, values in CANDIDATES.items()
    }
    assert select_variant(model, limits, verdicts, CANDIDATES) == expected


def test_direction_does_not_change_what_a_bound_means() -> None:
    """`max_drop` bounds a fall of the value whichever way is better."""
    base = Baseline("origin/main", {"latency": 40.0})
    for direction in ("higher", "lower"):
        gates = Gates.model_validate(
            {"rules": [{"metric": "latency", "max_drop": 5, "direction": direction}]}
        )
        limits, _, _ = hold_to_base(gates, None)
        assert evaluate(limits, {"latency": 30.0}, base).passed is False
        assert evaluate(limits, {"latency": 60.0}, base).passed is True


SWEEP = """sweep:
  train.max_depth: [2, 5]
stages:
  timing:
    cmd: python time.py
    metrics: [{outputs/timing.json: {cache: false, keys: [latency]}}]
"""

VALIDATE = [
    # (id, gates: block, the first line `mlops validate` prints, or None when valid)
    (
        "custom-select-with-rule-direction",
        """gates:
  select: latency
  rules:
    - {metric: latency, max: 50, direction: lower}
""",
        None,
    ),
    (
        "custom-select-without-direction",
        """gates:
  select: latency
  rules:
    - {metric: latency, max: 50}
""",
        "pipelines/iris.yaml:28:11: error: gates.select: is higher or lower 'latency' better?",
    ),
    (
        "rules-disagree",
        """gates:
  rules:
    - {metric: accuracy, min: 0.9, direction: higher}
    - {metric: accuracy, max_drop: 0.1, direction: lower}
""",
        "pipelines/iris.yaml:30:52: error: gates.rules[1].direction: 'lower' contradicts "
        "rules[0] ('higher') for metric 'accuracy'",
    ),
    (
        "rule-disagrees-with-select-direction",
        """gates:
  select: latency
  select_direction: higher
  rules:
    - {metric: latency, max: 50, direction: lower}
""",
        "pipelines/iris.yaml:31:45: error: gates.rules[0].direction: 'lower' contradicts "
        "select_direction ('higher') for metric 'latency'",
    ),
]


def _pipeline(example: Path, gates: str) -> None:
    path = example / "pipelines/iris.yaml"
    text = path.read_text("utf-8")
    head, _, rest = text.partition("stages:\n")
    stages, _, _ = rest.partition("gates:\n")
    path.write_text(head + SWEEP + stages + gates, "utf-8")
    # A swept train stage cannot be deployed: the pipeline drops deploy:, so nothing is.
    (example / "deployments.yaml").write_text("{}\n", "utf-8")


@pytest.mark.parametrize(("gates", "expected"), [pytest.param(*c[1:], id=c[0]) for c in VALIDATE])
def test_validate_direction(
    example: Path, capsys: pytest.CaptureFixture[str], gates: str, expected: str | None
) -> None:
    _pipeline(example, gates)
    code = main(["validate"])
    err = capsys.readouterr().err
    if expected is None:
        assert code == 0, err
    else:
        assert code == 2
        assert err.splitlines()[0] == expected
