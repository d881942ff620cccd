#!/usr/bin/env bash
# Set up a virtualenv and run the main job end to end on a fresh example project, offline.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PY" -m venv .venv
# Exact versions from the lock file (the ones CI tested), so pip never backtracks.
.venv/bin/python -m pip install --quiet -c requirements/lock.txt -e .
# Byte-compile our sources, as a wheel install would: an editable install leaves that to the
# first run, and where PYTHONDONTWRITEBYTECODE is set every mlops process compiles them again.
.venv/bin/python -m compileall -q src
export PATH="$PWD/.venv/bin:$PATH"
demo=$(mktemp -d)/demo
# The demo commits; give git an identity if this machine has none.
export GIT_AUTHOR_NAME="${GIT_AUTHOR_NAME:-mlops demo}" GIT_AUTHOR_EMAIL="${GIT_AUTHOR_EMAIL:-demo@example.com}"
export GIT_COMMITTER_NAME="${GIT_COMMITTER_NAME:-mlops demo}" GIT_COMMITTER_EMAIL="${GIT_COMMITTER_EMAIL:-demo@example.com}"
step() { printf '\n==> %s\n' "$*"; "$@"; }
step mlops init "$demo"
cd "$demo"
step mlops validate
step mlops compile
step mlops run
step dvc metrics show
step mlops gate iris --markdown gate-report.md
printf '\n==> the Markdown report for a pull request (gate-report.md)\n\n'
cat gate-report.md
step git add -A
step git commit --quiet -m "Train the iris example"
step mlops register iris
step mlops deploy --env staging
step mlops status
printf '\nThe example project is in %s\n' "$demo"
