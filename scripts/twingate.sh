#!/usr/bin/env bash
# The README's first command: sets up what is missing (scripts/setup.sh),
# builds the Fluent Bit module and the `twingate` CLI, then runs the CLI
# with your arguments, from your directory:
#
#   bash scripts/twingate.sh examples/logs
#   bash scripts/twingate.sh --profile ecs --heap-size 4M examples/logs/docker.log
#
# The CLI runs the module as Fluent Bit's wasm filter does (docs/cli.md).
# A clean build takes a few minutes, most of it wasmtime; later runs start
# at once.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
source "$root/scripts/setup.sh"
setup_rust

(
  cd "$root"
  # The Fluent Bit module, exactly as `.ci/test` builds it (and tunes it
  # for Fluent Bit's interpreter: tools/wamr-tune).
  cargo build --release -p twingate-analytics --target wasm32-unknown-unknown
  cargo run --release -q -p wamr-tune -- target/wasm32-unknown-unknown/release/twingate_analytics.wasm
  # The CLI, built the way `cargo test --release --workspace` (.ci/test)
  # builds it: a plain `cargo build -p twingate-cli` resolves wasmtime with
  # fewer features than the workspace's tests and would compile it a second
  # time (about 4 minutes); building the test that runs this very command
  # (cli/tests/examples.rs) resolves them as the test run does, so both
  # share one build.
  cargo test --release --workspace --no-run --test examples
) >&2

target_dir="${CARGO_TARGET_DIR:-target}"
[[ "$target_dir" = /* ]] || target_dir="$root/$target_dir"
exec "$target_dir/release/twingate" "$@"
