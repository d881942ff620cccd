"""Typed, frozen models of `mlops.yaml`, `pipelines/*.yaml` and `deployments.yaml`.

Everything is strict: unknown keys are refused, and no value is coerced (a
quoted "0.9" is not a number, `no` is not a string). Numbers in rules must be
finite. Cross-file rules (references, cycles, paths) live in `checks.py`.
"""

from __future__ import annotations

import math
import re
from typing import TYPE_CHECKING, Annotated, Any, Literal, Union

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Discriminator,
    Field,
    StrictBool,
    StrictInt,
    Tag,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from runner.config.bounds import BOUNDS, NoBaseline
from runner.config.monitor import Monitor
from runner.config.scale import PipelineCI, Shards
from runner.config.step_options import Direction, direction
from runner.config.targets import TARGET_KINDS


def _exact_int(value: Any) -> Any:
    # `Literal[1]` compares with ==, so 1.0 and `true` would pass as 1.
    if isinstance(value, bool) or not isinstance(value, int):
        raise PydanticCustomError("int_type", "Input should be a valid integer")
    return value


# Variants one sweep may have: GitHub's limit on jobs in one matrix.
MAX_VARIANTS = 256

Finite = Annotated[float, Field(allow_inf_nan=False)]
NonNegative = Annotated[float, Field(ge=0, allow_inf_nan=False)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True, defer_build=True)


# ---------------------------------------------------------------- mlops.yaml

if TYPE_CHECKING:
    Target = Any
else:  # the union of every registered target kind, told apart by `kind:`
    Target = Annotated[
        Union[tuple(TARGET_KINDS.values())],  # noqa: UP007  (built at run time)
        Field(discriminator="kind"),
    ]


class Remote(Strict):
    """A DVC remote: a path or an s3://, gs://, azure://, ssh:// ... URL."""

    url: str = Field(min_length=1)

    @property
    def scheme(self) -> str | None:
        """`s3`, `gs`, `ssh` ... for a URL; None for a local path."""
        return self.url.split("://", 1)[0] if "://" in self.url else None

    @property
    def is_local(self) -> bool:
        """A folder on this machine (or a mounted share), not a URL."""
        return self.scheme is None

    @property
    def is_relative(self) -> bool:
        """A local path relative to the project root."""
        return self.is_local and not self.url.startswith("/")


class Storage(Strict):
    default: str
    remotes: dict[str, Remote] = Field(min_length=1)


Quantity = Annotated[str, Field(pattern=r"^[0-9]+(\.[0-9]+)?(m|Ki|Mi|Gi|Ti|k|M|G|T)?$")]


class Autoscaling(Strict):
    """HorizontalPodAutoscaler bounds: replicas follow the average CPU use."""

    min_replicas: int = Field(default=1, ge=1, le=1000)
    max_replicas: int = Field(default=4, ge=1, le=1000)
    cpu_percent: int = Field(default=70, ge=1, le=100)

    @model_validator(mode="after")
    def _ordered(self) -> Autoscaling:
        if self.min_replicas > self.max_replicas:
            raise ValueError(
                f"min_replicas ({self.min_replicas}) is greater than "
                f"max_replicas ({self.max_replicas})"
            )
        return self


class Resources(Strict):
    """CPU and memory each pod requests (and is limited to)."""

    cpu: Quantity = "500m"
    memory: Quantity = "512Mi"


class Kubernetes(Strict):
    """Manifests `mlops compile` writes for the environment (needs an S3 target)."""

    image: str = Field(pattern=r"^[a-z0-9][A-Za-z0-9._/:@-]*$")
    namespace: str | None = Field(default=None, pattern=r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")
    replicas: int = Field(default=2, ge=1, le=1000)
    autoscaling: Autoscaling | None = None
    resources: Resources = Field(default_factory=Resources)
    # A Secret holding the bearer token under the key `token`; none: no token.
    token_secret: str | None = Field(default=None, pattern=r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$")


class PredictionLogSettings(Strict):
    """Where and how the server records what it answers (parquet files)."""

    enabled: bool = True
    # A folder; default: .mlops/predictions/<env> in the project (relative to its root).
    path: str | None = Field(default=None, min_length=1)
    sample: float = Field(default=1.0, ge=0, le=1, allow_inf_nan=False)
    queue: int = Field(default=10000, ge=1, le=10_000_000)
    roll_mb: float = Field(default=64, gt=0, le=4096, allow_inf_nan=False)
    roll_seconds: float = Field(default=3600, gt=0, le=86400 * 7, allow_inf_nan=False)


class Serve(Strict):
    """How `mlops serve --env ENV` serves the environment's model."""

    port: int = Field(default=8080, ge=1, le=65535)
    workers: int = Field(default=1, ge=1, le=64)
    max_batch: int = Field(default=10000, ge=1, le=10_000_000)
    max_body_mb: float = Field(default=16, gt=0, le=1024, allow_inf_nan=False)
    poll_seconds: float = Field(default=5, gt=0, le=3600, allow_inf_nan=False)
    predictions: PredictionLogSettings = Field(default_factory=PredictionLogSettings)
    kubernetes: Kubernetes | None = None


class Environment(Strict):
    """A deployment target; the order of `environments:` is the promotion order."""

    target: Target
    requires: str | None = None
    approval: bool = False
    description: str | None = None
    serve: Serve | None = None

    @model_validator(mode="after")
    def _pods_read_s3(self) -> Environment:
        if self.serve and self.serve.kubernetes and self.target.kind != "s3":
            raise ValueError(
                "serve.kubernetes needs an s3 target: pods read the model from the bucket"
            )
        return self


class CISettings(Strict):
    python: str = Field(default="3.11", pattern=r"^(pypy)?\d+(\.\d+){0,2}$")
    runs_on: str = Field(default="ubuntu-latest", pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
    # A git branch name (git check-ref-format), used in workflow triggers.
    main_branch: str = Field(
        default="main", pattern=r"^[A-Za-z0-9_]([A-Za-z0-9._/-]*[A-Za-z0-9_-])?$"
    )
    # Let main reuse the results a pull request committed and pushed (true), or re-run
    # every stage and refuse to register what does not reproduce (false: strict).
    reuse_pr_cache: bool = True
    # What the workflows pip-install: a requirements file with hashes (the default,
    # DEFAULT_INSTALL), a path (a folder or a wheel), or one exactly pinned requirement.
    install: str | None = None
    # Matrix jobs a pipeline's sweep is split over, unless its own `ci.shards` says (scale.py).
    shards: Shards = 1

    @model_validator(mode="after")
    def _branch_is_a_ref(self) -> CISettings:
        if ".." in self.main_branch or "//" in self.main_branch:
            raise ValueError(f"main_branch '{self.main_branch}' is not a valid git branch name")
        return self

    @field_validator("install")
    @classmethod
    def _installable(cls, value: str | None) -> str | None:
        if value is not None and install_kind(value) is None:
            raise ValueError(
                f"install '{value}' is not a requirements file (*.txt), a path (./dir, "
                "a .whl) or one exactly pinned requirement (name==1.2.3)"
            )
        return value

    @property
    def install_spec(self) -> tuple[str, str]:
        """(kind, value) of what CI installs: kind is 'file', 'path' or 'requirement'."""
        value = self.install or DEFAULT_INSTALL
        kind = install_kind(value)
        assert kind is not None
        return kind, value


# The requirements file, with hashes, that the workflows install by default.
DEFAULT_INSTALL = "requirements/mlops-ci.txt"
_SAFE_PATH = r"[A-Za-z0-9_.][A-Za-z0-9_./+-]*"
_INSTALL_KINDS = (
    ("file", re.compile(rf"^{_SAFE_PATH}\.txt$")),
    (
        "path",
        re.compile(rf"^(\.|\.\./?{_SAFE_PATH}|\./{_SAFE_PATH}|/{_SAFE_PATH}|{_SAFE_PATH}\.whl)$"),
    ),
    (
        "requirement",
        re.compile(
            r"^[A-Za-z0-9][A-Za-z0-9._-]*(\[[A-Za-z0-9._-]+(,[A-Za-z0-9._-]+)*\])?"
            r"==[0-9][A-Za-z0-9.+!-]*$"
        ),
    ),
)


def install_kind(value: str) -> str | None:
    """'file', 'path' or 'requirement' for a `ci.install` value; None when it is none of them.

    Nothing else is accepted: the value reaches a workflow's `env:`, and pip would read
    an option, a URL or a `${{ }}` expression in it.
    """
    if ".." in value.replace("../", "") or "${{" in value:
        return None
    for kind, pattern in _INSTALL_KINDS:
        if pattern.match(value):
            return kind
    return None


class Project(Strict):
    """`mlops.yaml`."""

    version: Annotated[Literal[1], BeforeValidator(_exact_int)]
    project: str
    storage: Storage | None = None
    environments: dict[str, Environment] = Field(default_factory=dict)
    ci: CISettings = Field(default_factory=CISettings)


# ---------------------------------------------------------- pipelines/*.yaml


class OutFlags(Strict):
    """Flags of one output, as in DVC (`- path: {cache: false}`)."""

    cache: bool = True
    persist: bool = False
    push: bool = True
    desc: str | None = None
    # DVC's annotations of an output, and the remote it is pushed to.
    remote: str | None = Field(default=None, min_length=1)
    type: str | None = Field(default=None, min_length=1)
    labels: list[str] | None = None
    meta: dict[str, Any] | None = None
    # Only for metrics files: the metric names the file holds, so gates can be checked.
    keys: list[str] | None = None
    # Only for plots: how DVC draws the file (`dvc plots show`).
    template: str | None = Field(default=None, min_length=1)
    x: str | None = Field(default=None, min_length=1)
    y: str | None = Field(default=None, min_length=1)
    title: str | None = None
    x_label: str | None = None
    y_label: str | None = None
    header: bool | None = None


# What `plots:` entries may set beyond the output flags (DVC's plot properties).
PLOT_PROPS = ("template", "x", "y", "title", "x_label", "y_label", "header")


PathSpec = Annotated[
    Union[Annotated[str, Tag("path")], Annotated[dict[str, OutFlags], Tag("flags")]],  # noqa: UP007
    Discriminator(lambda v: "flags" if isinstance(v, dict) else "path"),
]
Command = Annotated[
    Union[Annotated[str, Tag("text")], Annotated[list[str], Tag("list")]],  # noqa: UP007
    Discriminator(lambda v: "list" if isinstance(v, list) else "text"),
]
# A stage's `params:` entry: a key of the pipeline's params, or `{file: [keys]}` for a
# params file the team keeps itself (`{file: null}`: every key of it, as in DVC).
ParamSpec = Annotated[
    Union[  # noqa: UP007
        Annotated[str, Tag("key")],
        Annotated[dict[str, Union[list[str], None]], Tag("file")],  # noqa: UP007
    ],
    Discriminator(lambda v: "file" if isinstance(v, dict) else "key"),
]
# DVC's `vars:` entry: a params file (`file` or `file:key,key`) or values inline.
VarsSpec = Annotated[
    Union[Annotated[str, Tag("file")], Annotated[dict[str, Any], Tag("values")]],  # noqa: UP007
    Discriminator(lambda v: "values" if isinstance(v, dict) else "file"),
]
# `foreach:` a list, a mapping, or one `${...}` reference to a param holding either.
Foreach = Union[list[Any], dict[str, Any], str]  # noqa: UP007
# `matrix:` name -> a list of values, or a `${...}` reference to a param list.
Matrix = dict[str, Union[list[Any], str]]  # noqa: UP007


class StepStage(Strict):
    """A built-in step (`step: train`) with its options in `with:`."""

    step: str
    with_: dict[str, Any] = Field(default_factory=dict, alias="with")
    needs: list[str] = Field(default_factory=list)
    desc: str | None = None


# The named inputs of the built-in steps that a custom command may write.
Providable = Literal["data", "train", "test", "model"]


class CmdStage(Strict):
    """A custom command, as in DVC."""

    cmd: Command
    needs: list[str] = Field(default_factory=list)
    deps: list[str] = Field(default_factory=list)
    outs: list[PathSpec] = Field(default_factory=list)
    # Which built-in input each of its outs is, e.g. {data: features.parquet} feeds `split`.
    provides: dict[Providable, str] = Field(default_factory=dict)
    params: list[ParamSpec] = Field(default_factory=list)
    metrics: list[PathSpec] = Field(default_factory=list)
    plots: list[PathSpec] = Field(default_factory=list)
    always_changed: bool = False
    frozen: bool = False
    desc: str | None = None
    meta: dict[str, Any] = Field(default_factory=dict)
    vars: list[VarsSpec] = Field(default_factory=list)
    # One DVC stage per item (`stage@key`), with `${item}` and `${key}` in the body.
    foreach: Foreach | None = None
    matrix: Matrix | None = None

    @model_validator(mode="after")
    def _one_loop(self) -> CmdStage:
        if self.foreach is not None and self.matrix is not None:
            raise ValueError("a stage takes foreach: or matrix:, not both")
        if self.matrix is not None and not self.matrix:
            raise ValueError("matrix: needs at least one name")
        return self


def _stage_kind(value: Any) -> str | None:
    if isinstance(value, dict):
        if "step" in value:
            return "step"
        if "cmd" in value:
            return "cmd"
    elif isinstance(value, (StepStage, CmdStage)):
        return "step" if isinstance(value, StepStage) else "cmd"
    return None


Stage = Annotated[
    Union[Annotated[StepStage, Tag("step")], Annotated[CmdStage, Tag("cmd")]],  # noqa: UP007
    Discriminator(
        _stage_kind,
        custom_error_type="stage_kind",
        custom_error_message="a stage needs either 'step:' (a built-in step) or 'cmd:'",
    ),
]


class Rule(Strict):
    """One gate rule on one metric.

    `min`/`max` bound the candidate. `max_drop`/`max_rise` bound the change
    against the baseline in the metric's own units; `max_drop_rel`/`max_rise_rel`
    bound it relative to the baseline, (candidate - baseline) / |baseline|.
    """

    metric: str
    min: Finite | None = None
    max: Finite | None = None
    max_drop: NonNegative | None = None
    max_rise: NonNegative | None = None
    max_drop_rel: NonNegative | None = None
    max_rise_rel: NonNegative | None = None
    # Which way is better for the metric; it picks the best sweep variant (`Gates.direction_of`).
    direction: Direction | None = None

    @model_validator(mode="after")
    def _has_a_bound(self) -> Rule:
        if all(getattr(self, bound) is None for bound in BOUNDS):
            raise ValueError(
                "rule has no bound: give at least one of min, max, max_drop, max_rise, "
                "max_drop_rel, max_rise_rel"
            )
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"min ({self.min}) is greater than max ({self.max})")
        return self


class Gates(Strict):
    # An environment name (compare with what it runs) or a git ref such as origin/main.
    baseline: str | None = None
    # What change rules do when there is no baseline yet.
    no_baseline: NoBaseline = "fail"
    rules: list[Rule] = Field(default_factory=list)
    # With a sweep: the metric that picks the best passing variant.
    select: str | None = None
    select_direction: Direction | None = None

    def direction_of(self, metric: str) -> Direction | None:
        """Which way is better for `metric`: a rule's `direction:`, else the known default.

        It decides which sweep variant is best (`select_direction` wins for the
        selecting metric); change rules bound the raw change whatever the direction.
        """
        declared = next(
            (r.direction for r in self.rules if r.metric == metric and r.direction), None
        )
        return direction(metric, declared)


class Deploy(Strict):
    model: str
    environments: list[str] = Field(min_length=1)
    # The stage whose output is the model; default: the last `train` step.
    stage: str | None = None
    # Which of that stage's outputs is the model, when it writes several.
    path: str | None = Field(default=None, min_length=1)


class Artifact(Strict):
    """An entry of DVC's `artifacts:` (the model registry's names)."""

    path: str = Field(min_length=1)
    type: str | None = Field(default=None, min_length=1)
    desc: str | None = None
    labels: list[str] = Field(default_factory=list)
    meta: dict[str, Any] = Field(default_factory=dict)


PlotAxis = Union[str, dict[str, Union[str, list[str]]], list[str]]  # noqa: UP007


class PlotDefinition(Strict):
    """A top-level plot of DVC (`plots:` beside `stages:`): one file, or several joined."""

    template: str | None = Field(default=None, min_length=1)
    x: PlotAxis | None = None
    y: PlotAxis | None = None
    title: str | None = None
    x_label: str | None = None
    y_label: str | None = None
    header: bool | None = None


TopPlot = Annotated[
    Union[  # noqa: UP007
        Annotated[str, Tag("path")],
        Annotated[dict[str, Union[PlotDefinition, None]], Tag("defs")],  # noqa: UP007
    ],
    Discriminator(lambda v: "defs" if isinstance(v, dict) else "path"),
]


SweepValue = Union[StrictBool, StrictInt, Finite, str]  # noqa: UP007


class Pipeline(Strict):
    """`pipelines/<name>.yaml`."""

    description: str | None = None
    params: dict[str, Any] = Field(default_factory=dict)
    # Where `params:` go: unset, under the pipeline's name in params.yaml; a file name
    # (`params.yaml` or one of the pipeline's own), at the top level of that file.
    params_file: str | None = Field(default=None, min_length=1)
    # DVC's `vars:` for `${...}` in commands: params files the team keeps, or values.
    vars: list[VarsSpec] = Field(default_factory=list)
    # DVC's top-level sections: metrics and plots no stage declares, params files
    # to show in `dvc params diff`, and model-registry artifacts.
    metrics: list[str] = Field(default_factory=list)
    plots: list[TopPlot] = Field(default_factory=list)
    params_files: list[str] = Field(default_factory=list)
    artifacts: dict[str, Artifact] = Field(default_factory=dict)
    # Dotted param key -> the values to try; one variant per point of the grid.
    sweep: dict[str, Annotated[list[SweepValue], Field(min_length=1)]] = Field(default_factory=dict)
    stages: dict[str, Stage] = Field(min_length=1)
    gates: Gates | None = None
    deploy: Deploy | None = None
    # Where its CI jobs run and how its sweep is split (config/scale.py).
    ci: PipelineCI | None = None
    monitor: Monitor[Rule] | None = None

    @field_validator("sweep")
    @classmethod
    def _bounded_grid(cls, sweep: dict[str, list[Any]]) -> dict[str, list[Any]]:
        # Checked here, before anything expands the grid: a few lines of YAML
        # can describe billions of variants.
        count = math.prod(len(values) for values in sweep.values())
        if count > MAX_VARIANTS:
            sizes = " x ".join(str(len(values)) for values in sweep.values())
            raise ValueError(
                f"the grid has {count:,} variants ({sizes}); the limit is {MAX_VARIANTS}"
            )
        return sweep


# ---------------------------------------------------------- deployments.yaml

# environment -> model -> "latest" | "vX.Y.Z"
Deployments = dict[str, dict[str, str]]
