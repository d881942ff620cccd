"""Gate one pipeline: gather the candidate's metrics, the baseline and the rules.

The rules applied are the stricter of the branch's and the base branch's (a
pull request cannot lower its own bar). The candidate must be current: if DVC
says a stage changed since it last ran (it failed, or nobody ran it), the
metrics on disk are stale and every rule fails.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from runner import git
from runner.config.dotted import flatten
from runner.config.load import PipelineFile, Workspace
from runner.config.models import CmdStage, Gates, Pipeline
from runner.errors import ConfigError
from runner.fsutil import FileTooLarge, read_text_bounded
from runner.gates import baseline as baselines
from runner.gates.rules import Baseline, Verdict, evaluate, hold_to_base, select_variant
from runner.layout import ROOT_DVC_YAML
from runner.pipeline import summary as last_run
from runner.pipeline.status import report_of, status_of
from runner.project.graph import build_graph, out_path
from runner.project.sweep import stages_of
from runner.yamlio import parse

METRICS_LIMIT = 16 << 20  # bytes; a metrics file is a few hundred


@dataclass
class GateReport:
    pipeline: str
    baseline: Baseline
    verdict: Verdict
    base_ref: str | None
    variants: dict[str, Verdict] = field(default_factory=dict)
    selected: str | None = None
    select_metric: str | None = None
    candidates: dict[str, dict[str, Any] | None] = field(default_factory=dict)
    params_changed: list[tuple[str, Any, Any]] = field(default_factory=list)
    stages: dict[str, list[str]] | None = None
    notes: list[str] = field(default_factory=list)
    # Why the candidate's metrics are not the current pipeline's ('' when they are).
    stale: str = ""

    @property
    def passed(self) -> bool:
        return self.verdict.passed


def metric_files(ws: Workspace, pfile: PipelineFile) -> dict[str, list[str]]:
    """Metrics files per sweep variant ('' when the pipeline has no sweep)."""
    graph = build_graph(ws)
    shared: list[str] = []
    per: dict[str, list[str]] = {}
    for sname, item in stages_of(pfile).items():
        node = graph.nodes[(pfile.name, sname)]
        files = [node.outputs["metrics"]] if "metrics" in node.outputs else []
        if isinstance(item.stage, CmdStage):
            files = [out_path(spec) for spec in item.stage.metrics]
        if item.variant is not None:
            per.setdefault(item.variant.name, []).extend(files)
        else:
            shared.extend(files)
    if not per:
        return {"": shared}
    return {name: [*shared, *files] for name, files in per.items()}


def read_metrics(root: Path, files: list[str]) -> tuple[dict[str, Any] | None, str]:
    merged: dict[str, Any] = {}
    for path in files:
        try:
            values = json.loads(read_text_bounded(root / path, METRICS_LIMIT))
        except FileNotFoundError:
            return None, f"{path} does not exist (run `mlops run`)"
        except FileTooLarge:
            return None, f"{path} is larger than {METRICS_LIMIT:,} bytes"
        except ValueError:
            return None, f"{path} is not valid JSON"
        if isinstance(values, dict):
            merged.update(values)
    return merged, ""


def default_base(ws: Workspace) -> str | None:
    """The base branch for holding rules: the PR's base in CI, else origin/main or main."""
    candidates = []
    if os.environ.get("GITHUB_BASE_REF"):
        candidates.append(f"origin/{os.environ['GITHUB_BASE_REF']}")
    main = ws.project.ci.main_branch
    candidates += [f"origin/{main}", main]
    for ref in candidates:
        if git.rev_parse(ws.root, ref):
            return ref
    return None


def base_gates(ws: Workspace, pfile: PipelineFile, ref: str) -> tuple[Gates | None, str]:
    """The pipeline's gates at `ref`, and a note when they cannot be read."""
    text = git.show(ws.root, ref, f"{git.prefix(ws.root)}{pfile.doc.path}")
    if text is None:
        return None, ""
    try:
        model = Pipeline.model_validate(parse(text, f"{ref}:{pfile.doc.path}").data)
    except (ConfigError, ValidationError):
        return None, (
            f"the base branch's {pfile.doc.path} is invalid, so its rules could not be "
            "held; this branch's rules apply"
        )
    return model.gates, ""


def freshness(ws: Workspace, pipeline: str) -> str:
    """Why the candidate's metrics are stale, or '' when DVC says all is up to date."""
    code, lines = status_of(ws.root, [f"{ROOT_DVC_YAML}:{pipeline}"])
    if code != 0:
        return f"`dvc status` failed: {[ln for ln in lines if ln.strip()][-1:] or ['?']}"
    changed = report_of(lines)
    if changed is None:
        return "`dvc status` gave no JSON"
    if not changed:
        return ""
    names = sorted(changed)
    return (
        f"stages changed since they last ran ({', '.join(names)}): a stage failed or "
        "`mlops run` was not run"
    )


def gate_pipeline(
    ws: Workspace,
    pfile: PipelineFile,
    *,
    baseline_spec: str | None,
    base_ref: str | None,
    check_fresh: bool = True,
) -> GateReport:
    gates = pfile.model.gates
    notes: list[str] = []
    base = None
    if base_ref is not None:
        base, note = base_gates(ws, pfile, base_ref)
        if note:
            notes.append(note)
    limits, policy, held = hold_to_base(gates, base)
    spec = baseline_spec if baseline_spec is not None else (gates.baseline if gates else None)
    groups = metric_files(ws, pfile)
    all_files = sorted({f for files in groups.values() for f in files})
    stale = freshness(ws, pfile.name) if check_fresh else ""
    candidates: dict[str, dict[str, Any] | None] = {}
    reasons: dict[str, str] = {}
    for name, files in groups.items():
        if stale:
            candidates[name], reasons[name] = None, stale
        else:
            candidates[name], reasons[name] = read_metrics(ws.root, files)
    base_line = baselines.resolve(ws, pfile, spec, all_files)
    verdicts = {
        name: evaluate(
            limits,
            candidates[name],
            _variant_baseline(ws, base_line, pfile, name, groups),
            no_baseline=policy,
            unavailable=reasons[name],
        )
        for name in groups
    }
    unread = next((reasons[name] for name in groups if candidates[name] is None), "")
    report = GateReport(
        pfile.name,
        base_line,
        verdicts[next(iter(verdicts))],
        base_ref,
        candidates=candidates,
        # Notes on held bounds travel with the checks; keep the others (policy, base file).
        notes=[*notes, *(n for n in held if n not in verdicts[next(iter(verdicts))].notes)],
        stale=unread,
    )
    if "" not in groups:  # a sweep: pick the best passing variant
        report.variants = verdicts
        report.select_metric, chosen = select_variant(gates, limits, verdicts, candidates)
        report.selected = chosen
        if chosen is not None:
            report.verdict = verdicts[chosen]
        else:
            first = next(iter(verdicts))
            report.verdict = Verdict(False, verdicts[first].checks, ["no variant passes the gate"])
    old_params = baselines.params_at(ws, base_line.commit, pfile.name)
    if old_params is not None:
        before, after = flatten(old_params), flatten(pfile.model.params)
        report.params_changed = [
            (key, before.get(key), after.get(key))
            for key in sorted(set(before) | set(after))
            if before.get(key) != after.get(key)
        ]
    last = last_run.read(ws.root)
    report.stages = last.stages_of(pfile.name) if last is not None else None
    return report


def _variant_baseline(
    ws: Workspace, base: Baseline, pfile: PipelineFile, name: str, groups: dict[str, list[str]]
) -> Baseline:
    """Sweep variants compare with the same variant's metrics files at the baseline."""
    if name == "" or base.commit is None or base.broken:
        return base
    return baselines.resolve_files(ws, base, groups[name])
