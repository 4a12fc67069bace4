#!/usr/bin/env bash
# The set-up the README's commands need, done by themselves: on a machine
# with rustup, whatever toolchains it has and whatever its auto-install
# setting (RUSTUP_AUTO_INSTALL=0 installs nothing by itself), this installs
# the toolchain rust-toolchain.toml pins with its components and targets,
# and only what is missing (a second run asks no server and takes well
# under a second).
#
#   bash scripts/setup.sh [--tests]      # from a shell; --tests: also
#                                        # what the tests need (setup_tests)
#   source scripts/setup.sh; setup_rust  # from a script: also exports
#                                        # RUSTUP_TOOLCHAIN for what follows
#
# rustup itself is never updated (`--no-self-update`): that is the user's
# choice, not a side effect of building this project.

setup_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

# The value of `key = ...` in rust-toolchain.toml, quotes and brackets
# removed; arrays must stay on one line (the parse fails loudly otherwise).
toolchain_setting() {
  local key="$1" line
  line="$(grep -E "^$key *= *" "$setup_root/rust-toolchain.toml" || true)"
  if [ -z "$line" ]; then
    return 0
  fi
  line="${line#*=}"
  if [[ "$line" == *"["* && "$line" != *"]"* ]]; then
    echo "setup.sh: rust-toolchain.toml: keep \`$key = [...]\` on one line (this script reads it)" >&2
    return 1
  fi
  tr -d '[]",' <<<"$line" | xargs
}

setup_rust() {
  if ! command -v rustup >/dev/null; then
    echo "setup.sh: rustup is missing: install it (https://rustup.rs), then run this again" >&2
    return 1
  fi
  local channel components targets
  channel="$(toolchain_setting channel)"
  components="$(toolchain_setting components)"
  targets="$(toolchain_setting targets)"
  if [ -z "$channel" ]; then
    echo "setup.sh: rust-toolchain.toml names no channel" >&2
    return 1
  fi
  # Wins over directory overrides and a RUSTUP_TOOLCHAIN of the caller's.
  export RUSTUP_TOOLCHAIN="$channel"

  local have_targets have_components
  # `toolchain list` never installs anything: with auto-install on, asking
  # the toolchain itself first would install it with the default profile.
  if ! rustup toolchain list | grep -qE "^${channel//./\\.}(-| |$)"; then
    echo "setup.sh: installing Rust $channel with $components and $targets (rust-toolchain.toml)" >&2
    local args=(--profile minimal --no-self-update)
    for c in $components; do args+=(-c "$c"); done
    for t in $targets; do args+=(-t "$t"); done
    rustup toolchain install "$channel" "${args[@]}" >&2
    return 0
  fi
  have_targets="$(rustup target list --installed --toolchain "$channel")"
  have_components="$(rustup component list --installed --toolchain "$channel")"

  local missing_targets=() missing_components=()
  for t in $targets; do
    grep -qx "$t" <<<"$have_targets" || missing_targets+=("$t")
  done
  for c in $components; do
    grep -qE "^$c(-.*)?$" <<<"$have_components" || missing_components+=("$c")
  done
  if [ ${#missing_targets[@]} -gt 0 ]; then
    echo "setup.sh: adding the targets ${missing_targets[*]} to Rust $channel" >&2
    rustup target add --toolchain "$channel" "${missing_targets[@]}" >&2
  fi
  if [ ${#missing_components[@]} -gt 0 ]; then
    echo "setup.sh: adding the components ${missing_components[*]} to Rust $channel" >&2
    rustup component add --toolchain "$channel" "${missing_components[@]}" >&2
  fi
}

# What the tests need besides Rust: Node 18 or later with npm (the npm
# package, jco) and Python 3.9 or later (the tests' venv, made here). Says
# what is missing before any long build starts. wasm-bindgen-cli and the
# npm dev dependencies are installed by js/build.sh when it needs them.
setup_tests() {
  local node_major
  node_major="$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)"
  if [ "$node_major" -lt 18 ] || ! command -v npm >/dev/null; then
    echo "setup.sh: the tests need Node 18 or later with npm (found: $(node --version 2>/dev/null || echo none))" >&2
    return 1
  fi
  if ! python3 -c 'import sys, venv, ensurepip; sys.exit(sys.version_info < (3, 9))' 2>/dev/null; then
    echo "setup.sh: the tests need Python 3.9 or later with its venv module" \
      "(found: $(python3 --version 2>&1 || true); on Debian: apt-get install python3-venv)" >&2
    return 1
  fi
  bash "$setup_root/tests/python/venv.sh"
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
  set -euo pipefail
  setup_rust
  if [ "${1:-}" = "--tests" ]; then
    setup_tests
  fi
fi
