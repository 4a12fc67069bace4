#!/usr/bin/env bash
# The tests' Python environment: target/py, with exactly the packages of
# tests/python/requirements.txt. Does nothing when it is already there
# (a stamp holds the requirements it was made from). About 30 s the first
# time; needs python3 (3.9 or later) and PyPI.
set -euo pipefail
cd "$(dirname "$0")/../.."
venv=target/py
stamp=$venv/requirements.txt
if [ -f "$stamp" ] && cmp -s tests/python/requirements.txt "$stamp"; then
  exit 0
fi
rm -rf "$venv"
python3 -m venv "$venv"
"$venv/bin/pip" install --quiet --disable-pip-version-check --no-deps \
  -r tests/python/requirements.txt
"$venv/bin/pip" check
cp tests/python/requirements.txt "$stamp"
