#!/usr/bin/env bash
# OCSF validation (issue 7): every event the `ocsf` profile makes from the
# corpus (raw lines and syslog lines, through the Fluent Bit module in the
# twin host) must validate against OCSF 1.8.0 class 4001. The Python
# packages (exact versions, requirements.txt) go to a venv in target/.
set -euo pipefail
cd "$(dirname "$0")/../.."
venv=target/ocsf-venv
if [ ! -x "$venv/bin/python" ] || ! "$venv/bin/python" -c 'import jsonschema, ocsf_json_schema' 2>/dev/null; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check --no-deps -r tests/validate/requirements.txt
fi
cargo run --quiet --release -p twingate-cli -- --profile ocsf --heap-size 4M \
  tests/corpus/connector.log tests/corpus/syslog.log 2>/dev/null |
  "$venv/bin/python" tests/validate/ocsf.py
