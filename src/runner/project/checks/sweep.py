"""A pipeline's sweep: swept keys, swept stages and the variant stage names."""

from __future__ import annotations

from runner.config.load import PipelineFile
from runner.config.models import CmdStage, StepStage
from runner.errors import Problem
from runner.project import interp
from runner.project.checks.names import name_problem
from runner.project.sweep import affected, variants
from runner.yamlio import Loc


def check_sweep(pfile: PipelineFile) -> list[Problem]:
    """Problems in the sweep: of one pipeline file."""
    doc, pipe = pfile.doc, pfile.model
    out: list[Problem] = []
    for key in pipe.sweep:
        loc: Loc = ("sweep", key)
        try:
            value = interp.lookup(pipe.params, key)
        except interp.RefError as exc:
            out.append(
                doc.problem(
                    loc,
                    f"sweep: '{key}' is not in this pipeline's params ({exc.reason})",
                    "sweep keys are dotted paths into params:, e.g. train.max_depth",
                    prefer_key=True,
                )
            )
            continue
        if isinstance(value, (dict, list)):
            out.append(
                doc.problem(
                    loc,
                    f"sweep: '{key}' is a {'mapping' if isinstance(value, dict) else 'list'}; "
                    "sweep single values",
                    f"sweep keys below it instead, e.g. {key}.<name>",
                    prefer_key=True,
                )
            )
    if out or not pipe.sweep:
        return out
    swept = affected(pipe)
    first_key: Loc = ("sweep", next(iter(pipe.sweep)))
    for sname in swept:
        if isinstance(pipe.stages[sname], CmdStage):
            out.append(
                doc.problem(
                    first_key,
                    f"sweep: stage '{sname}' is a cmd stage; sweeps run built-in steps only",
                    "read the swept params from a built-in step, or list each variant as "
                    "its own stage",
                    prefer_key=True,
                )
            )
    deploy = pipe.deploy
    if deploy is not None:
        trains = [
            s for s, st in pipe.stages.items() if isinstance(st, StepStage) and st.step == "train"
        ]
        deployed = deploy.stage or (trains[-1] if trains else None)
        if deployed in swept:
            out.append(
                doc.problem(
                    ("deploy",),
                    f"deploy: stage '{deployed}' runs once per sweep variant, so which model "
                    "to deploy is ambiguous",
                    "deploy from a train stage outside the sweep, or drop deploy: while "
                    "exploring with a sweep",
                    prefer_key=True,
                )
            )
    for variant in variants(pipe.sweep):
        for sname in swept:
            name = f"{sname}-{variant.name}"
            if name in pipe.stages:
                out.append(
                    doc.problem(
                        ("stages", name),
                        f"stages.{name}: clashes with the sweep copy of '{sname}' for "
                        f"variant {variant.name}",
                        "rename the stage",
                        prefer_key=True,
                    )
                )
            elif name_problem(name):
                out.append(
                    doc.problem(
                        first_key,
                        f"sweep: variant stage name '{name}' {name_problem(name)}",
                        "use shorter param names or values",
                        prefer_key=True,
                    )
                )
    return out
