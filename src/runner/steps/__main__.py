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


if __name__ == "__main__":
    sys.exit(main())
