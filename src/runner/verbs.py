"""Every CLI verb: its help, description, examples and arguments (data, not logic).

`cli.build_parser` turns this table into argparse sub-commands; the meta-tests
check that every verb and option here has help text and examples.
"""

from __future__ import annotations

# Neither argparse, typing nor dataclasses at import: `mlops run` starts DVC before
# cli builds its parser, as soon as this table says that the verb wants it.
TYPE_CHECKING = False
if TYPE_CHECKING:
    import argparse
    from collections.abc import Callable

    _Adder = Callable[[argparse.ArgumentParser], None]


def _no_arguments(parser: argparse.ArgumentParser) -> None:
    pass


class Verb:
    """One verb of the command line (read-only by convention)."""

    __slots__ = (
        "add_arguments",
        "description",
        "early",
        "examples",
        "formats",
        "help",
        "module",
        "name",
        "project",
    )

    def __init__(
        self,
        name: str,
        help: str,
        description: str,
        examples: tuple[str, ...],
        add_arguments: _Adder = _no_arguments,
        *,
        project: bool = True,
        formats: tuple[str, ...] = ("text", "json", "github"),
        module: str = "",
        early: str = "",
    ) -> None:
        self.name = name
        self.help = help
        self.description = description
        self.examples = examples
        self.add_arguments = add_arguments
        # Verbs that read the project get --project and --format.
        self.project = project
        self.formats = formats
        # The module in runner.commands, when the verb is a Python keyword (`import`).
        self.module = module
        # A light module whose `start_early()` (a context manager) cli enters before
        # it parses the command line: work that can start that soon overlaps with
        # parsing, importing and opening the project (`mlops run`: DVC's imports).
        self.early = early

    @property
    def module_name(self) -> str:
        return f"runner.commands.{self.module or self.name}"


def _ci_args(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "action",
        choices=("collect", "publish", "bundle", "push-tags", "requirements"),
        help="collect: copy PIPELINE's results and gate reports into DIR (pipeline job); "
        "publish: commit the results in DIR to the pull request's branch, set the "
        "mlops/<pipeline> statuses and update the comments (results job); bundle: write the "
        "version tag registered at HEAD into DIR (release job); push-tags: push the version "
        "tags of the bundles in DIR (tag job); requirements: write the hash-pinned "
        "requirements file ci.install names (default requirements/mlops-ci.txt) from the "
        "installed mlops-runner and its dependencies, with the hashes the package index "
        "publishes",
    )
    p.add_argument(
        "pipelines",
        nargs="*",
        metavar="PIPELINE",
        help="the pipeline (bundle: one; collect: one or more, as a packed matrix job runs them)",
    )
    p.add_argument(
        "--dir",
        dest="folder",
        metavar="DIR",
        help="the folder that travels between jobs as a workflow artifact (all but requirements)",
    )
    p.add_argument(
        "--gate",
        action="store_true",
        help="collect only: gate each pipeline first, as `mlops gate --step-summary` does, "
        "when this job's `mlops run` finished without a failed stage (else record that the "
        "gate did not run); exit 1 when a gate failed",
    )


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


def _validate_args(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--deep",
        action="store_true",
        help="also import each estimator and check its params, read the data's columns for "
        "the target, match metrics to the task, and check that every version "
        "deployments.yaml names is registered (imports scikit-learn)",
    )


def _compile_args(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--check",
        action="store_true",
        help="write nothing; exit 1 with a diff if any generated file is stale or edited",
    )
    p.add_argument(
        "--force",
        action="store_true",
        help="replace files that lack the generated header (a hand-written dvc.yaml) and "
        "params.yaml values changed through DVC",
    )


def _params_args(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "action",
        choices=("pull",),
        help="pull: write the values of params.yaml back into pipelines/*.yaml",
    )


def _import_args(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "files",
        nargs="*",
        metavar="DVC_YAML",
        help="the dvc.yaml files to import, relative to the current folder (default: dvc.yaml)",
    )
    p.add_argument(
        "--name",
        metavar="NAME",
        help="the pipeline's name (default: the dvc.yaml's folder, or the project folder's "
        "name for the root dvc.yaml); e.g. --name churn",
    )
    p.add_argument(
        "--params",
        choices=("top", "nested"),
        default="top",
        help="top (default): params stay at the top level of params.yaml, so scripts and "
        "`dvc exp run -S train.lr=0.1` keep working; nested: under the pipeline's name, "
        "like the pipelines mlops init writes",
    )
    p.add_argument(
        "--force",
        action="store_true",
        help="overwrite pipeline files, compiled dvc.lock files and copies in "
        ".mlops/imported/ that already exist",
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
        help="fail if the run changes dvc.lock or metrics files, naming the first stage whose "
        "outputs differ (strict main: with --force --no-run-cache, the merged results must "
        "reproduce)",
    )
    p.add_argument(
        "--shard",
        metavar="I/N",
        help="run only the sweep variants of shard I of N (variant k goes to shard k mod N + 1), "
        "e.g. --shard 2/3; needs one PIPELINE with a sweep",
    )
    p.add_argument(
        "--push",
        action="store_true",
        help="after a successful run, push outputs and the run-cache to the DVC remote "
        "(so other jobs and `mlops collect` restore instead of training)",
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


def _collect_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("pipeline", metavar="PIPELINE", help="the pipeline whose sweep to collect")
    p.add_argument(
        "--no-pull",
        action="store_true",
        help="do not pull from the DVC remote first (the shards ran in this work tree)",
    )
    p.add_argument(
        "--push",
        action="store_true",
        help="push every variant's outputs to the DVC remote afterwards (for a results commit)",
    )
    p.add_argument(
        "--baseline",
        metavar="ENV|REF",
        help="compare with what this environment runs, or with this git ref "
        "(default: gates.baseline)",
    )
    p.add_argument(
        "--markdown",
        dest="markdown_path",
        metavar="FILE",
        help="also write the table and the gate report as Markdown (a PR comment, a job summary)",
    )
    p.add_argument(
        "--json",
        dest="json_path",
        metavar="FILE",
        help="also write the gate report as JSON, as `mlops gate --json` does (for `mlops ci "
        "collect`)",
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


def _status_args(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--quick",
        action="store_true",
        help="compare pointers only, without hashing the files each target serves "
        "(the output says so)",
    )


def _monitor_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("pipeline", metavar="PIPELINE", help="the pipeline whose model to monitor")
    p.add_argument(
        "--env", required=True, metavar="ENV", help="the environment whose model and data to check"
    )
    p.add_argument(
        "--data",
        metavar="PATH",
        help="the current data: a .csv or .parquet file, or a folder of parquet files "
        "(default: monitor.data, else the environment's prediction log)",
    )
    p.add_argument(
        "--since",
        metavar="DURATION",
        help="read the prediction log this far back, e.g. 24h or 7d (default: monitor.since, "
        "else all of it)",
    )
    p.add_argument(
        "--html",
        dest="html_path",
        metavar="FILE",
        help="also write a self-contained HTML report with each column's distributions",
    )
    p.add_argument(
        "--markdown",
        dest="markdown_path",
        metavar="FILE",
        help="also write the report as Markdown (for an issue or job summary)",
    )
    p.add_argument(
        "--record",
        action="store_true",
        help="append the verdict to the monitoring history that `mlops history` shows",
    )


def _reproduce_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("spec", metavar="MODEL@VERSION", help="the version, e.g. iris-classifier@v0.1.0")


def _serve_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--env", metavar="ENV", help="serve what this environment's target points at")
    p.add_argument(
        "--model-dir", metavar="PATH", help="serve a model folder instead (model.skops, meta.json)"
    )
    p.add_argument(
        "--target-url",
        metavar="URL",
        help="serve from a target without a project: s3://bucket/prefix or a folder "
        "(as the Kubernetes manifests do; needs --model)",
    )
    p.add_argument(
        "--endpoint-url", metavar="URL", help="S3-compatible endpoint for --target-url s3://..."
    )
    p.add_argument(
        "--model",
        metavar="NAME",
        help="the model (default: the one deployments.yaml names for ENV; the folder's name)",
    )
    p.add_argument(
        "--host", default="127.0.0.1", help="address to bind (default: 127.0.0.1, this machine)"
    )
    p.add_argument("--port", type=int, metavar="N", help="port (default: serve.port, else 8080)")
    p.add_argument(
        "--workers",
        type=int,
        metavar="N",
        help="worker processes (default: serve.workers, else 1)",
    )
    p.add_argument(
        "--predictions",
        metavar="DIR",
        help="folder of the prediction log (default: serve.predictions.path, else "
        ".mlops/predictions/ENV; none for --model-dir and --target-url)",
    )
    p.add_argument("--no-predictions", action="store_true", help="do not write the prediction log")
    p.add_argument(
        "--project",
        dest="project_dir",
        metavar="DIR",
        help="project folder for --env (default: the nearest folder upwards with mlops.yaml)",
    )


def _predict_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--env", metavar="ENV", help="use what this environment's target points at")
    p.add_argument("--model-dir", metavar="PATH", help="use a model folder instead")
    p.add_argument(
        "--model", metavar="NAME", help="the model (default: the one deployments.yaml names)"
    )
    p.add_argument(
        "--input", required=True, metavar="FILE", help="the rows to score (.csv or .parquet)"
    )
    p.add_argument(
        "--output",
        required=True,
        metavar="FILE",
        help="where to write the rows with a `prediction` column (.csv or .parquet)",
    )
    p.add_argument(
        "--proba", action="store_true", help="also write proba_<class> columns (classifiers)"
    )
    p.add_argument(
        "--project",
        dest="project_dir",
        metavar="DIR",
        help="project folder for --env (default: the nearest folder upwards with mlops.yaml)",
    )


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
        "line and a hint. Exits 0 when valid, 2 otherwise. --deep also imports the "
        "estimators and reads the data's column names, so mistakes that would otherwise "
        "surface only once training starts are caught first.",
        (
            "mlops validate",
            "mlops validate --format github    # annotations on a pull request",
            "mlops validate --format json",
            "mlops validate --deep    # also estimators, params, target columns, metrics, versions",
        ),
        _validate_args,
    ),
    Verb(
        "compile",
        "write dvc.yaml, params.yaml and the other generated files",
        "Turn mlops.yaml and pipelines/*.yaml into files standard tools run: one "
        "pipelines/<name>/dvc.yaml per pipeline, a root dvc.yaml that reproduces them all, "
        "params.yaml, .dvc/config, the workflows, the editor schemas and a generated block "
        "of .gitignore that ignores every cached output. Files are written all-or-nothing "
        "(even when killed) and are byte-identical when nothing changed; files left by a "
        "removed pipeline are deleted. Refuses to replace a file it did not write, or "
        "params.yaml values changed through DVC (see `mlops params pull`), without --force.",
        (
            "mlops compile && dvc repro",
            "mlops compile --check    # in CI: exit 1 with a diff if anything is stale",
        ),
        _compile_args,
    ),
    Verb(
        "import",
        "turn an existing DVC project's dvc.yaml into pipelines/*.yaml",
        "Translate each dvc.yaml (stages, foreach/matrix, ${...}, params, metrics, plots, "
        "artifacts, vars) into pipelines/<name>.yaml and its params.yaml into the pipeline's "
        "params, and report every key it could not carry. The originals move to "
        ".mlops/imported/ byte for byte (nothing is deleted), and dvc.lock carries over to "
        "pipelines/<name>/dvc.lock, so after `mlops compile` no stage that was up to date "
        "runs again. Run it in the project root; nothing is overwritten without --force.",
        (
            "mlops import && mlops compile && dvc status",
            "mlops import --name churn --params nested",
            "mlops import dvc.yaml --format json",
        ),
        _import_args,
        project=False,
        formats=("text", "json"),
        module="import_dvc",
    ),
    Verb(
        "params",
        "write params.yaml values changed through DVC back into pipelines/*.yaml",
        "After `dvc exp run -S` or `dvc exp apply`, params.yaml holds values the pipeline "
        "files do not, and compile and run refuse to discard them. `mlops params pull` "
        "writes each changed value into its pipelines/<name>.yaml, keeping comments and "
        "layout, so the winning experiment becomes a reviewable YAML diff.",
        (
            "dvc exp apply exp-1a2b3 && mlops params pull && git diff pipelines/",
            "mlops params pull --format json",
        ),
        _params_args,
        formats=("text", "json"),
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
        (
            "mlops run",
            "mlops run iris",
            "mlops run --format json > run.json",
            "mlops run iris --shard 2/3 --pull --push    # one CI job of a sharded sweep",
        ),
        _run_args,
        early="runner.pipeline.repro",
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
        early="runner.pipeline.status",
    ),
    Verb(
        "collect",
        "gather a sharded sweep from the run-cache, pick the champion and gate it",
        "The last job of a sweep split with `mlops run PIPELINE --shard I/N --push`: pull "
        "what the shards pushed, reproduce the pipeline with every variant restored from "
        "DVC's run-cache (nothing is trained; exit 1 naming any variant stage that had to "
        "run), select the best passing variant with gates.select, gate it, and print one "
        "table of all variants. Exits 1 when the gate fails.",
        (
            "mlops collect iris",
            "mlops collect iris --format markdown >> $GITHUB_STEP_SUMMARY",
            "mlops collect iris --no-pull --format json",
            "mlops collect iris --markdown gate.md --json gate.json",
        ),
        _collect_args,
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
        early="runner.pipeline.status",
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
        "deployments.yaml), or --to V, after checking its gate and artifact (and requires: "
        "when V is newer than the version it runs). Commit it; "
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
        "For each environment and model whose target does not serve the version yet: check "
        "the evidence promote checks (gate passed; requires: holds, unless it moves back to an "
        "older version), fetch the exact artifact of the version from the DVC remote, verify "
        "its sha256, upload it under an immutable versioned key, read it back, "
        "switch the target's pointer atomically and append an audit record. Idempotent and "
        "safe to rerun after a crash; concurrent deploys queue on the target's lock.",
        ("mlops deploy", "mlops deploy --env staging --stage-tags"),
        _deploy_args,
    ),
    Verb(
        "serve",
        "answer Open Inference Protocol (V2) HTTP requests with an environment's model",
        "Serve the version the environment's target points at over HTTP (the V2 REST API of "
        "KServe, MLServer and Triton), on 127.0.0.1 unless --host says otherwise. The model is "
        "verified (sha256) and loaded with skops, never pickle. When `mlops deploy` moves the "
        "pointer, the new version is loaded in the background and swapped in without a failed "
        "request. Answers go to a parquet prediction log; metrics at /metrics. Needs the "
        "`serve` extra: pip install 'mlops-runner[serve]'.",
        (
            "mlops serve --env staging",
            "mlops serve --env production --host 0.0.0.0 --port 8080 --workers 4",
            "mlops serve --model-dir outputs/iris/train/model --port 9000",
        ),
        _serve_args,
        project=False,
        formats=(),
    ),
    Verb(
        "predict",
        "score a CSV or parquet file with an environment's model",
        "Load the model the environment serves (verified, as `mlops serve` does), check the "
        "input file's columns like a request, and write it back with a `prediction` column.",
        (
            "mlops predict --env staging --input new.csv --output scored.csv",
            "mlops predict --model-dir outputs/iris/train/model --input x.parquet "
            "--output y.parquet --proba",
        ),
        _predict_args,
        project=False,
        formats=(),
    ),
    Verb(
        "status",
        "desired against actual version per environment; drift exits 1",
        "Compare what deployments.yaml asks for with what each target serves, and hash "
        "the served files against each pointer's digest (a mismatch is 'tampered', exit 1).",
        ("mlops status", "mlops status --format json", "mlops status --quick"),
        _status_args,
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
        "monitor",
        "check current data against the deployed version's training data: drift, performance",
        "Compare the data an environment sees (its prediction log from `mlops serve`, or a "
        "file) with the reference statistics stored with the version it runs: a test per "
        "column chosen by type and sample size, schema changes, missing values, new "
        "categories, prediction drift and, when the data carries the target, the metrics "
        "against those recorded at registration (monitor.performance.rules, in the form of "
        "gate rules). Exits 0 when nothing drifted, 1 on drift or degradation, 2 on bad input.",
        (
            "mlops monitor iris --env staging",
            "mlops monitor iris --env staging --since 24h --html report.html",
            "mlops monitor iris --env production --data labelled.parquet --format json",
        ),
        _monitor_args,
        formats=("text", "json", "markdown"),
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
        "ci",
        "the steps of the generated GitHub workflows that pass results between jobs",
        "What the generated workflows run between jobs, so that the job that runs a pull "
        "request's code holds no write token and the job that writes runs no pipeline: "
        "collect a pipeline's results (dvc.lock files, metrics, plots; never data or models), "
        "commit them to the pull request's branch with one mlops/<pipeline> commit status "
        "per pipeline and one comment each, updated in place; bundle and push version tags. "
        "publish reads GITHUB_TOKEN, GITHUB_REPOSITORY, GITHUB_API_URL, PR_NUMBER, HEAD_REF, "
        "HEAD_REPO, CHECK_RESULT and AFFECTED, as mlops-pr.yml sets them.",
        (
            "mlops ci collect iris --dir mlops-results",
            "mlops ci collect iris wine --gate --dir mlops-results",
            "mlops ci publish --dir mlops-results",
            "mlops ci bundle iris --dir mlops-tags && mlops ci push-tags --dir mlops-tags",
            "mlops ci requirements && git add requirements/mlops-ci.txt",
        ),
        _ci_args,
        formats=("text", "json"),
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
