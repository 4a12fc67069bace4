#!/usr/bin/env bash
# Runs every fuzz target for a while (default 20 s each), from the seeds in
# fuzz/corpus/<target>/; what libFuzzer learns goes to fuzz/corpus-run/
# (ignored by git). A finding stops the run with a non-zero status, prints
# the panic and leaves the input in fuzz/artifacts/<target>/.
#
# usage: fuzz/run.sh [SECONDS] [TARGET...]
# needs: a nightly toolchain and cargo-fuzz 0.13.2 (see RELIABILITY.md)
set -uo pipefail
cd "$(dirname "$0")"
seconds="${1:-20}"
shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(line record abi input)
cargo +nightly fuzz build -O >/dev/null 2>&1 || cargo +nightly fuzz build -O || exit 1
for target in "${targets[@]}"; do
  mkdir -p "corpus-run/$target"
  log="corpus-run/$target.log"
  cargo +nightly fuzz run -O "$target" "corpus-run/$target" "corpus/$target" -- \
    -max_total_time="$seconds" -max_len=16384 -timeout=10 -print_final_stats=1 >"$log" 2>&1
  status=$?
  done_line=$(grep -E '^#[0-9]+[[:space:]]+DONE' "$log" | tail -1)
  echo "fuzz $target: ${done_line:-no DONE line} (status $status)"
  if [ "$status" -ne 0 ]; then
    grep -E -A8 'panicked|ERROR: libFuzzer|SUMMARY' "$log" | head -40
    echo "fuzz $target: FAILED, input in fuzz/artifacts/$target/"
    exit 1
  fi
done
