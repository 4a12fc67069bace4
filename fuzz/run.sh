#!/usr/bin/env bash
# Runs every fuzz target for a while (default 20 s each), from the seeds in
# fuzz/corpus/<target>/; what libFuzzer learns goes to fuzz/corpus-run/
# (ignored by git). A finding stops the run with a non-zero status, prints
# the panic and leaves the input in fuzz/artifacts/<target>/. Mutations use
# the tokens of fuzz/dict/twingate.dict.
#
# Each log line is prefixed with the seconds since the target started, so the
# plateau can be read off: the summary line gives the coverage (`cov`) at
# the start, at half time and at the end, and when it last grew.
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

# `<seconds since start> <line>` for every line read.
stamp() {
  local start=$SECONDS line
  while IFS= read -r line; do printf '%s %s\n' "$((SECONDS - start))" "$line"; done
}

# "cov A (start) -> B (half time) -> C (end), last new coverage at T s"
plateau() {
  awk -v half="$(( seconds / 2 ))" '
    match($0, / cov: [0-9]+/) {
      cov = substr($0, RSTART + 6, RLENGTH - 6) + 0
      if (first == "") first = cov
      if ($1 <= half) at_half = cov
      if (cov > last) { last = cov; grew = $1 }
    }
    END { printf "cov %s -> %s (half time) -> %s, last new coverage at %s s", first, at_half, last, grew }
  ' "$1"
}

for target in "${targets[@]}"; do
  mkdir -p "corpus-run/$target"
  log="corpus-run/$target.log"
  cargo +nightly fuzz run -O "$target" "corpus-run/$target" "corpus/$target" -- \
    -max_total_time="$seconds" -max_len=16384 -timeout=10 -print_final_stats=1 \
    -dict=dict/twingate.dict 2>&1 | stamp >"$log"
  status=${PIPESTATUS[0]}
  done_line=$(grep -E '^[0-9]+ #[0-9]+[[:space:]]+DONE' "$log" | tail -1 | cut -d' ' -f2-)
  echo "fuzz $target: ${done_line:-no DONE line} (status $status)"
  echo "fuzz $target: $(plateau "$log")"
  if [ "$status" -ne 0 ]; then
    grep -E -A8 'panicked|ERROR: libFuzzer|SUMMARY' "$log" | head -40
    echo "fuzz $target: FAILED, input in fuzz/artifacts/$target/"
    exit 1
  fi
done
