"""Where a pipeline's `params:` live in the files DVC reads.

By default under the pipeline's name in the root `params.yaml` (so
`dvc exp run -S iris.train.max_depth=8`). With `params_file:` they sit at the
top level of that file instead, which is where a hand-written DVC project keeps
them, so scripts that read `params.yaml` and `dvc exp run -S train.lr=0.1`
keep working unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from runner.config.load import PipelineFile, Workspace
from runner.layout import PARAMS_FILE


@dataclass(frozen=True)
class ParamsLocation:
    file: str  # project-relative, e.g. params.yaml
    prefix: str  # "" at the top level of the file, "<pipeline>." when nested

    @property
    def top_level(self) -> bool:
        return not self.prefix

    def key(self, dotted: str) -> str:
        """The key DVC knows a param by (`iris.train.lr`, or `train.lr` at the top level)."""
        return f"{self.prefix}{dotted}"


def params_location(pfile: PipelineFile) -> ParamsLocation:
    """Where the pipeline's params are compiled to."""
    chosen = pfile.model.params_file
    if chosen is None:
        return ParamsLocation(PARAMS_FILE, f"{pfile.name}.")
    return ParamsLocation(chosen.removeprefix("./"), "")


def params_files(ws: Workspace) -> dict[str, dict[str, Any]]:
    """Every params file compile writes (params.yaml always) -> its values."""
    files: dict[str, dict[str, Any]] = {PARAMS_FILE: {}}
    for name, pfile in ws.pipelines.items():
        where = params_location(pfile)
        values = files.setdefault(where.file, {})
        if where.top_level:
            values.update(pfile.model.params)  # validation refuses clashing keys
        elif pfile.model.params:
            values[name] = pfile.model.params
    return files
