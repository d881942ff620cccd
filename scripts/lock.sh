#!/usr/bin/env bash
# Refresh requirements/lock.txt: resolve the newest versions that pyproject.toml allows in a
# fresh virtualenv, then pin every installed distribution exactly. Review the diff, run
# `bash scripts/test.sh`, and commit both together.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
venv=$(mktemp -d)/venv
"$PY" -m venv "$venv"
"$venv/bin/python" -m pip install --quiet --upgrade pip
"$venv/bin/python" -m pip install --quiet -e '.[test]'
python_version=$("$venv/bin/python" -c 'import sys; print("%d.%d" % sys.version_info[:2])')
{
    echo "# Exact versions of everything mlops-runner and its \`test\` extra install, as CI tested"
    echo "# them (Python $python_version, Linux). scripts/test.sh and scripts/demo.sh install with"
    echo "# \`pip install -c requirements/lock.txt\`, so pip resolves nothing and never backtracks."
    echo "# Refresh with \`bash scripts/lock.sh\` (a fresh venv, newest allowed versions), never by hand."
    "$venv/bin/python" -m pip freeze --all --exclude-editable |
        grep -v -i -E '^(mlops-runner|setuptools|wheel)(==| @)'
} > requirements/lock.txt
rm -rf "$(dirname "$venv")"
echo "wrote requirements/lock.txt"
