#!/usr/bin/env bash
# OCSF validation (issue 7): every event the `ocsf` profile makes from the
# corpus (every shape: raw, syslog, Docker, CRI, journald records, through the Fluent Bit module in the
# twin host) must validate against OCSF 1.8.0 class 4001. Needs the module,
# the CLI (target/release/twingate, built by `cargo test --release
# --workspace`) and the tests' Python (bash tests/python/venv.sh).
set -euo pipefail
cd "$(dirname "$0")/../.."
twingate=target/release/twingate
for needed in "$twingate" target/py/bin/python; do
  if [ ! -x "$needed" ]; then
    echo "ocsf: $needed is missing; run bash .ci/test (it builds the CLI and the tests' Python)" >&2
    exit 1
  fi
done
"$twingate" --profile ocsf --heap-size 4M tests/corpus 2>/dev/null |
  target/py/bin/python tests/validate/ocsf.py
