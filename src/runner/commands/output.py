"""How commands print: the one JSON document of `--format json` and plain tables.

Every verb that takes `--format json` prints exactly one document through
`write_json`, so the shape of machine-read output is decided here once.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from typing import Any


def write_json(value: Any, *, sort_keys: bool = False) -> None:
    """Print `value` as one indented JSON document on stdout."""
    sys.stdout.write(json.dumps(value, indent=2, sort_keys=sort_keys) + "\n")


def write_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
    """Print left-aligned columns, two spaces apart, with `header` as the first row."""
    table = [tuple(header), *(tuple(row) for row in rows)]
    widths = [max(len(row[i]) for row in table) for i in range(len(header))]
    for row in table:
        line = "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True))
        sys.stdout.write(line.rstrip() + "\n")
