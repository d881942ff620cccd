#!/usr/bin/env bash
# Set up a virtualenv with everything the tests need, then run the checks CI runs.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PY" -m venv .venv
.venv/bin/python -m pip install --quiet -c requirements/lock.txt --upgrade pip
# Exact versions from the lock file: the ones CI tested, and nothing for pip to backtrack over.
.venv/bin/python -m pip install --quiet -c requirements/lock.txt -e '.[test]'
# Byte-compile our sources, as a wheel install would: an editable install leaves that to the
# first run, and where PYTHONDONTWRITEBYTECODE is set every mlops process compiles them again.
.venv/bin/python -m compileall -q src
.venv/bin/ruff check .
.venv/bin/ruff format --check .
.venv/bin/mypy
.venv/bin/lint-imports
.venv/bin/mlops validate
.venv/bin/mlops compile --check
# One worker per core; a test module stays on one worker, so its module-scoped states are
# built once, and the workers share the one trained template (tests/conftest.py).
.venv/bin/python -m pytest -n auto --dist loadfile "$@"
