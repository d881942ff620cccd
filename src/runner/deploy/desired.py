"""Edit `deployments.yaml` (the desired state) without losing its comments.

Only `mlops promote` and `mlops rollback` write it, one value at a time, with
ruamel.yaml's round-trip mode so that comments and layout survive; the result
is validated again before it replaces the file (all-or-nothing).
"""

from __future__ import annotations

import io
from pathlib import Path

from runner.fsutil import write_atomic
from runner.layout import DEPLOYMENTS_FILE
from runner.yamlio import parse


def set_version(root: Path, env: str, model: str, version: str) -> str | None:
    """Set `env`/`model` to `version`; return the value it had (None if unset)."""
    from ruamel.yaml import YAML
    from ruamel.yaml.comments import CommentedMap

    path = root / DEPLOYMENTS_FILE
    yaml = YAML()
    yaml.preserve_quotes = True
    yaml.width = 4096
    text = path.read_text("utf-8") if path.exists() else ""
    if text.strip():
        parse(text, DEPLOYMENTS_FILE)  # refuse tags, anchors and the like before ruamel sees it
    # ruamel's round-trip loader keeps comments; it builds plain mappings, never objects.
    data = yaml.load(text) if text.strip() else None
    if data is None:
        data = CommentedMap()
    models = data.get(env)
    if models is None or not hasattr(models, "get"):
        models = CommentedMap()
        data[env] = models
    if hasattr(models, "fa"):
        models.fa.set_block_style()  # `production: {}` becomes a block mapping
    previous = models.get(model)
    models[model] = version
    out = io.StringIO()
    yaml.dump(data, out)
    result = out.getvalue()
    parse(result, DEPLOYMENTS_FILE)  # the strict loader must still accept it
    write_atomic(path, result)
    return None if previous is None else str(previous)
