"""Command-line entry point: parse argv, dispatch, and handle every error once.

Start-up matters (people run `mlops validate` on every save), so this module
imports only the standard library; each verb's module is imported when that
verb runs, and dvc, pandas and scikit-learn only where a verb needs them.
"""

from __future__ import annotations

import contextlib
import gc
import importlib
import os
import sys
from collections.abc import Sequence

from runner import __version__
from runner.verbs import VERBS

TYPE_CHECKING = False  # not `typing`'s: start-up matters here
if TYPE_CHECKING:
    import argparse


# Verbs that hold data or run for long keep Python's cycle collector; the others
# are short and build many small acyclic objects (a mark per YAML node, a model
# per stage), which the collector scanned again and again: a third of the CPU of
# `mlops validate` on 1,000 pipelines. Reference counting still frees them.
_COLLECTING_VERBS = frozenset({"serve", "predict"})


def build_parser() -> argparse.ArgumentParser:
    import argparse

    parser = argparse.ArgumentParser(
        prog="mlops",
        formatter_class=argparse.RawDescriptionHelpFormatter,
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
            formatter_class=argparse.RawDescriptionHelpFormatter,
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
    words = list(sys.argv[1:] if argv is None else argv)
    # A verb may start work before the command line is even parsed (`Verb.early`:
    # `mlops run` starts DVC, which imports itself while we parse, import our own
    # modules, open the project and compile). It is stopped untouched unless used.
    named = next((w for w in words if not w.startswith("-")), None)
    verb = next((v for v in VERBS if v.name == named), None)
    early = verb.early if verb is not None else ""
    with importlib.import_module(early).start_early() if early else contextlib.nullcontext():
        parser = build_parser()
        args = parser.parse_args(words)
        if args.verb is None:
            parser.print_help(sys.stderr)
            return 2
        collecting = gc.isenabled()
        if args.verb not in _COLLECTING_VERBS:
            gc.disable()
        try:
            return _dispatch(args)
        finally:
            if collecting:  # main() called in-process (tests) leaves the collector as it was
                gc.enable()


def _dispatch(args: argparse.Namespace) -> int:
    kwargs = {k: v for k, v in vars(args).items() if k not in ("verb", "traceback")}
    fmt = kwargs.get("format", "text")
    try:
        verb = next(v for v in VERBS if v.name == args.verb)
        module = importlib.import_module(verb.module_name)
        if "project" not in kwargs:
            return int(module.run(**kwargs))
        # The verbs that read a project get it opened once, here.
        from runner.layout import project_root
        from runner.project.workspace import open_workspace

        kwargs["ws"] = open_workspace(project_root(kwargs.pop("project")))
        return int(module.run(**kwargs))
    except KeyboardInterrupt:
        sys.stderr.write("interrupted\n")
        return 130
    except Exception as exc:  # the one boundary: every error ends here
        return _report(exc, fmt, show_traceback=args.traceback)


def _report(exc: Exception, fmt: str, *, show_traceback: bool) -> int:
    from runner.diagnostics import render, render_output
    from runner.errors import EXIT_INTERNAL, ConfigError, ExternalCommandError, MlopsError

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
        if isinstance(exc, ExternalCommandError) and exc.output:
            sys.stderr.write(render_output(exc.output))
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
