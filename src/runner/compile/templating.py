"""The one jinja2 environment for generated files.

Delimiters are `[[ ]]` and `[% %]`, which cannot collide with GitHub's
`${{ }}`; undefined names are errors; templates ship as package data. Values
from users are inserted only through the `q` filter, which writes a YAML
double-quoted scalar (JSON syntax), so no value can change the YAML around it,
and in which `${{` cannot start a GitHub expression.
"""

from __future__ import annotations

import json
from functools import lru_cache
from typing import Any

import jinja2


def _quote(value: Any) -> str:
    # GitHub evaluates `${{ }}` in any workflow string after YAML has parsed it, so
    # quoting alone does not keep an expression out. The config refuses `${{` in every
    # value that reaches a workflow; should one still arrive, it becomes the literal
    # text through an expression that only yields it.
    return json.dumps(str(value)).replace("${{", "${{ '${{' }}")


@lru_cache(maxsize=1)
def environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("runner", "templates"),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
        autoescape=False,
        variable_start_string="[[",
        variable_end_string="]]",
        block_start_string="[%",
        block_end_string="%]",
        comment_start_string="[#",
        comment_end_string="#]",
    )
    env.filters["q"] = _quote
    return env


def render(name: str, **context: Any) -> str:
    return environment().get_template(name).render(**context)
