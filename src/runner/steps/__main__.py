"""Entry point of compiled stages.

    python -m runner.steps PIPELINE STAGE      run one built-in step
    python -m runner.steps --manifest PIPELINE hash a pipeline's final outputs
    python -m runner.steps --stamp PATH        mark a custom stage without outputs as run

Stages run with the project root as working directory (`wdir` in dvc.yaml).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    os.environ.setdefault("PYDANTIC_DISABLE_PLUGINS", "__all__")
    parser = argparse.ArgumentParser(prog="python -m runner.steps", description=__doc__)
    parser.add_argument("--manifest", action="store_true", help="write the pipeline manifest")
    parser.add_argument("--stamp", metavar="PATH", help="write an empty stamp file")
    parser.add_argument("pipeline", nargs="?", help="pipeline name")
    parser.add_argument("stage", nargs="?", help="stage name")
    args = parser.parse_args(argv)
    root = Path.cwd()
    from runner.errors import MlopsError

    if args.stamp:
        from runner.fsutil import write_atomic

        write_atomic(root / args.stamp, "ran\n")
        return 0
    if not args.pipeline:
        parser.error("PIPELINE is required")
    try:
        if args.manifest:
            from runner.steps.runtime import write_manifest

            write_manifest(root, args.pipeline)
        else:
            if not args.stage:
                parser.error("STAGE is required")
            from runner.steps.runtime import run_stage

            run_stage(root, args.pipeline, args.stage)
    except MlopsError as exc:
        from runner.diagnostics import render  # only a failing stage pays for it

        sys.stderr.write(render(exc.problems, "text"))
        return exc.exit_code
    return 0


# What the stages import, imported once by the fork server of an `mlops run` (a head
# start: one that fails to import there is left to the stage).
STEP_IMPORTS = (
    "numpy",
    "pandas",
    "pyarrow",
    "pyarrow.parquet",
    "sklearn",
    "sklearn.base",
    "sklearn.compose",
    "sklearn.ensemble",
    "sklearn.impute",
    "sklearn.linear_model",
    "sklearn.metrics",
    "sklearn.pipeline",
    "sklearn.preprocessing",
    "skops.io",
    "runner.steps.runtime",
    "runner.ml",
    "runner.ml.evaluate",
    "runner.ml.ingest",
    "runner.ml.model_io",
    "runner.ml.split",
    "runner.ml.train",
)


def _in_server_or_here() -> int:
    """Under `mlops run`, hand the stage to the run's fork server (`runner.forkserver`);
    else, or when there is none to use, run it in this process."""
    from runner import forkserver
    from runner.errors import MlopsError

    try:
        delegated = forkserver.delegate("runner.steps", sys.argv[1:], warm=STEP_IMPORTS)
    except MlopsError as exc:
        from runner.diagnostics import render

        sys.stderr.write(render(exc.problems, "text"))
        return exc.exit_code
    return main() if delegated is None else delegated


if __name__ == "__main__":
    sys.exit(_in_server_or_here())
