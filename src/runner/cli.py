"""Command-line entry point: parse argv, dispatch, and handle every error once.

Start-up matters (people run `mlops validate` on every save), so this module
imports only the standard library; each verb's module is imported when that
verb runs, and dvc, pandas and scikit-learn only where a verb needs them.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from runner import __version__


@dataclass(frozen=True)
class Verb:
    name: str
    help: str
    description: str
    examples: tuple[str, ...]
    add_arguments: Callable[[argparse.ArgumentParser], None] = lambda p: None
    # Verbs that read the project get --project and --format.
    project: bool = True
    formats: tuple[str, ...] = field(default=("text", "json", "github"))


def _init_args(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "directory",
        nargs="?",
        default=".",
        metavar="DIR",
        help="folder to create the project in (default: the current folder)",
    )
    p.add_argument(
        "--force",
        action="store_true",
        help="overwrite example files that already exist",
    )


def _schema_args(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "kind",
        nargs="?",
        choices=("project", "pipeline", "deployments"),
        help="print only this schema (default: all three, keyed by file name)",
    )
    p.add_argument(
        "--out",
        metavar="DIR",
        help="write mlops.schema.json, pipeline.schema.json and deployments.schema.json "
        "into DIR instead of printing",
    )


def _compile_args(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--check",
        action="store_true",
        help="write nothing; exit 1 with a diff if any generated file is stale or edited",
    )


def _run_args(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "pipelines",
        nargs="*",
        metavar="PIPELINE",
        help="pipelines to reproduce (default: all)",
    )
    p.add_argument(
        "--no-run-cache",
        action="store_true",
        help="re-run stages even when DVC's run-cache has their results",
    )
    p.add_argument(
        "--force",
        action="store_true",
        help="re-run every stage, changed or not (dvc repro --force)",
    )
    p.add_argument(
        "--pull",
        action="store_true",
        help="first pull data, outputs and the run-cache from the DVC remote (as CI does)",
    )
    p.add_argument(
        "--locked",
        action="store_true",
        help="fail if the run changes dvc.lock or metrics files (CI: results must be committed)",
    )


def _plan_args(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--base",
        metavar="REF",
        help="compare with this git ref (default: origin/<ci.main_branch>, else the main branch)",
    )


def _gate_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("pipeline", metavar="PIPELINE", help="the pipeline to gate")
    p.add_argument(
        "--baseline",
        metavar="ENV|REF",
        help="compare with what this environment runs, or with this git ref "
        "(default: gates.baseline)",
    )
    p.add_argument(
        "--base",
        metavar="REF",
        help="base branch whose rules hold if this branch loosens them "
        "(default: the PR's base in CI, else origin/<main branch>, else <main branch>)",
    )
    p.add_argument("--json", dest="json_path", metavar="FILE", help="also write the report as JSON")
    p.add_argument(
        "--markdown",
        dest="markdown_path",
        metavar="FILE",
        help="also write the report as Markdown (for a PR comment or job summary)",
    )
    p.add_argument(
        "--step-summary",
        action="store_true",
        help="append the Markdown report to $GITHUB_STEP_SUMMARY (in GitHub Actions)",
    )


def _register_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("pipeline", metavar="PIPELINE", help="the pipeline whose model to register")
    p.add_argument(
        "--bump",
        choices=("patch", "minor", "major"),
        default="patch",
        help="which part of the last version to increase (default: patch; first is v0.1.0)",
    )
    p.add_argument("--push", action="store_true", help="push the version tag to origin")


def _promote_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("model", metavar="MODEL", help="the model (deploy.model of its pipeline)")
    p.add_argument("--to", required=True, metavar="ENV", help="the environment to promote to")
    p.add_argument(
        "--version",
        metavar="V",
        help="the version (default: what the `requires:` environment runs, else the latest)",
    )


def _rollback_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("model", metavar="MODEL", help="the model to roll back")
    p.add_argument("--env", required=True, metavar="ENV", help="the environment to roll back")
    p.add_argument(
        "--to",
        metavar="V",
        help="the version to go back to (default: the one the environment ran before)",
    )


def _deploy_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--env", metavar="ENV", help="only this environment (default: all)")
    p.add_argument(
        "--stage-tags",
        action="store_true",
        help="also write GTO stage tags <model>#<env>#<N> for each deployment made",
    )


def _history_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("model", nargs="?", metavar="MODEL", help="only this model (default: all)")


def _reproduce_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("spec", metavar="MODEL@VERSION", help="the version, e.g. iris-classifier@v0.1.0")


VERBS: tuple[Verb, ...] = (
    Verb(
        "init",
        "scaffold a working example project",
        "Write mlops.yaml, pipelines/iris.yaml, deployments.yaml and editor schemas: a "
        "project that trains on scikit-learn's bundled iris dataset, offline.",
        ("mlops init demo", "cd demo && mlops validate"),
        _init_args,
        project=False,
        formats=(),
    ),
    Verb(
        "validate",
        "check every YAML file: schema, references, paths, gates",
        "Load mlops.yaml, pipelines/*.yaml and deployments.yaml strictly and run the "
        "cross-file checks. Every problem is reported as file:line:col with the source "
        "line and a hint. Exits 0 when valid, 2 otherwise.",
        (
            "mlops validate",
            "mlops validate --format github    # annotations on a pull request",
            "mlops validate --format json",
        ),
    ),
    Verb(
        "compile",
        "write dvc.yaml, params.yaml and the other generated files",
        "Turn mlops.yaml and pipelines/*.yaml into files standard tools run: one "
        "pipelines/<name>/dvc.yaml per pipeline, a root dvc.yaml that reproduces them all, "
        "params.yaml, .dvc/config and the editor schemas. Files are written all-or-nothing "
        "and are byte-identical when nothing changed.",
        (
            "mlops compile && dvc repro",
            "mlops compile --check    # in CI: exit 1 with a diff if anything is stale",
        ),
        _compile_args,
    ),
    Verb(
        "plan",
        "show what a branch changes and which stages will re-run, and why",
        "Compare the project with a base ref: pipelines, stages, params, gate rules, "
        "environments and deployments added, removed or changed, and which DVC stages will "
        "re-run because a command, dependency or param changed. Markdown for a PR comment.",
        (
            "mlops plan",
            "mlops plan --base origin/main --format markdown >> $GITHUB_STEP_SUMMARY",
            "mlops plan --format outputs >> $GITHUB_OUTPUT   # affected pipelines, environments",
        ),
        _plan_args,
        formats=("text", "markdown", "json", "outputs"),
    ),
    Verb(
        "run",
        "reproduce pipelines through DVC, with progress and a summary",
        "Compile if the YAML changed, then run `dvc repro` for the chosen pipelines: "
        "stages whose inputs, code or params changed run; the rest are skipped or restored "
        "from DVC's run-cache. Ends with what ran and the headline metrics. Exits 1 when a "
        "stage fails, with its cause and a hint.",
        ("mlops run", "mlops run iris", "mlops run --format json > run.json"),
        _run_args,
    ),
    Verb(
        "gate",
        "check a pipeline's metrics against its rules and baseline",
        "Evaluate the pipeline's gate rules on the metrics of the last run: absolute bounds, "
        "and changes against a baseline read from git (what an environment runs, or a ref). "
        "Rules loosened on a branch are held to the base branch's value until merged. Exits 0 "
        "when the gate passes, 1 when it fails, 2 on a configuration error.",
        (
            "mlops gate iris",
            "mlops gate iris --baseline origin/main",
            "mlops gate iris --markdown report.md --json report.json",
        ),
        _gate_args,
        formats=("text", "json", "markdown"),
    ),
    Verb(
        "register",
        "record a version of a pipeline's model from the current commit",
        "Check that the pipeline is up to date and committed and that its gate passes, push "
        "its outputs to the DVC remote, then create the annotated tag <model>@vX.Y.Z with a "
        "JSON record (commit, dvc.lock hashes, params, metrics, gate verdict, artifact "
        "sha256, who and when). GTO lists the same versions (gto show). A commit is "
        "registered once.",
        ("mlops register iris", "mlops register iris --bump minor --push"),
        _register_args,
    ),
    Verb(
        "promote",
        "move a version to an environment in deployments.yaml, after checking the evidence",
        "Refuse unless the version exists, its gate passed at its commit, the `requires:` "
        "environment wants and serves it, and its artifact is in the DVC remote with the "
        "recorded sha256. Then edit deployments.yaml (comments kept) for a pull request.",
        (
            "mlops promote iris-classifier --to production",
            "mlops promote iris-classifier --to staging --version v0.2.0",
        ),
        _promote_args,
    ),
    Verb(
        "rollback",
        "put a previous version back in deployments.yaml",
        "Write the version the environment ran before (from the git history of "
        "deployments.yaml), or --to V, after checking its gate and artifact. Commit it; "
        "`mlops deploy` applies it.",
        (
            "mlops rollback iris-classifier --env production",
            "mlops rollback iris-classifier --env production --to v0.1.0",
        ),
        _rollback_args,
    ),
    Verb(
        "deploy",
        "make every target serve what deployments.yaml says",
        "For each environment and model: fetch the exact artifact of the version from the DVC "
        "remote, verify its sha256, upload it under an immutable versioned key, read it back, "
        "switch the target's pointer atomically and append an audit record. Idempotent and "
        "safe to rerun after a crash; concurrent deploys queue on the target's lock.",
        ("mlops deploy", "mlops deploy --env staging --stage-tags"),
        _deploy_args,
    ),
    Verb(
        "status",
        "desired against actual version per environment; drift exits 1",
        "Compare what deployments.yaml asks for with what each target serves.",
        ("mlops status", "mlops status --format json"),
    ),
    Verb(
        "history",
        "the audit trail: registrations, deployments.yaml changes and deployments",
        "Merge the version tags, the git log of deployments.yaml and the targets' audit "
        "records into one timeline.",
        ("mlops history", "mlops history iris-classifier --format json"),
        _history_args,
    ),
    Verb(
        "reproduce",
        "rebuild a registered version from its commit and compare with its record",
        "Check the version's commit out in a fresh git worktree, run its pipeline with every "
        "stage forced and the run-cache off, and report whether metrics and model sha256 are "
        "identical to the record. Exits 1 when they differ.",
        ("mlops reproduce iris-classifier@v0.1.0",),
        _reproduce_args,
    ),
    Verb(
        "schema",
        "print the JSON Schema of the YAML files, for editors",
        "Print the JSON Schema of mlops.yaml, pipelines/*.yaml and deployments.yaml. "
        "Editors with the YAML language server pick it up from the "
        "`# yaml-language-server: $schema=...` comment that `mlops init` writes.",
        ("mlops schema pipeline > pipeline.schema.json", "mlops schema --out .mlops/schema"),
        _schema_args,
        project=False,
        formats=(),
    ),
)


class _Formatter(argparse.RawDescriptionHelpFormatter):
    pass


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mlops",
        formatter_class=_Formatter,
        description="GitOps runner for machine learning delivery: pipelines, gates and "
        "environments declared as YAML in git, compiled to DVC stages and GitHub Actions.",
        epilog="examples:\n  mlops init demo && cd demo\n  mlops validate\n\n"
        "Run `mlops VERB --help` for the options of one verb.",
    )
    parser.add_argument("--version", action="version", version=f"mlops-runner {__version__}")
    sub = parser.add_subparsers(
        dest="verb", metavar="VERB", title="verbs", help="one of the verbs below"
    )
    for verb in VERBS:
        p = sub.add_parser(
            verb.name,
            help=verb.help,
            description=verb.description,
            epilog="examples:\n" + "\n".join(f"  {e}" for e in verb.examples),
            formatter_class=_Formatter,
        )
        verb.add_arguments(p)
        if verb.project:
            p.add_argument(
                "--project",
                metavar="DIR",
                help="project folder (default: the nearest folder upwards with mlops.yaml)",
            )
        if verb.formats:
            p.add_argument(
                "--format",
                choices=verb.formats,
                default="text",
                help="how to report problems: text for people, json for tools, "
                "github for workflow annotations (default: text)",
            )
        p.add_argument(
            "--traceback",
            action="store_true",
            help="show the Python traceback of an error (for bug reports)",
        )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    # pydantic scans every installed distribution's entry points for plugins the
    # first time it builds a validator (~30 ms in a venv with DVC); we use none.
    os.environ.setdefault("PYDANTIC_DISABLE_PLUGINS", "__all__")
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.verb is None:
        parser.print_help(sys.stderr)
        return 2
    kwargs = {k: v for k, v in vars(args).items() if k not in ("verb", "traceback")}
    fmt = kwargs.get("format", "text")
    try:
        module = importlib.import_module(f"runner.commands.{args.verb}")
        return int(module.run(**kwargs))
    except KeyboardInterrupt:
        sys.stderr.write("interrupted\n")
        return 130
    except Exception as exc:  # the one boundary: every error ends here
        return _report(exc, fmt, show_traceback=args.traceback)


def _report(exc: Exception, fmt: str, *, show_traceback: bool) -> int:
    from runner.diagnostics import render
    from runner.errors import EXIT_INTERNAL, ConfigError, MlopsError

    if show_traceback:
        import traceback

        traceback.print_exception(exc)
    if isinstance(exc, MlopsError):
        problems = exc.problems
        # A JSON list of problems is the output of a failed validation; other errors
        # go to stderr so that they never corrupt JSON a command already printed.
        machine = fmt == "github" or (fmt == "json" and isinstance(exc, ConfigError))
        stream = sys.stdout if machine else sys.stderr
        fmt = fmt if machine else "text"
        stream.write(render(problems, fmt))
        if fmt == "text" and len(problems) > 1:
            files = len({p.file for p in problems if p.file})
            sys.stderr.write(f"{len(problems)} problems in {files} file(s)\n")
        return exc.exit_code
    sys.stderr.write(
        f"internal error: {type(exc).__name__}: {exc}\n"
        "  hint: this is a bug in mlops-runner; run again with --traceback and report it\n"
    )
    return EXIT_INTERNAL


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
