"""`mlops schema`: print (or write) the JSON Schema of the YAML files."""

from __future__ import annotations

import sys
from pathlib import Path

from runner.config.schemas import FILES, dumps, schema
from runner.fsutil import write_all


def run(*, kind: str | None, out: str | None) -> int:
    if out is not None:
        folder = Path(out)
        write_all([(folder / FILES[k][0], dumps(schema(k))) for k in FILES])
        for k in FILES:
            sys.stdout.write(f"wrote {folder / FILES[k][0]}\n")
        return 0
    if kind is not None:
        sys.stdout.write(dumps(schema(kind)))
    else:
        sys.stdout.write(dumps({FILES[k][1]: schema(k) for k in FILES}))
    return 0
