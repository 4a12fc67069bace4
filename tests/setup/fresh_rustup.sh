#!/usr/bin/env bash
# Proves the README's first command, word for word, on a rustup that has
# nothing of this project, with RUSTUP_AUTO_INSTALL=0 (as on CI machines):
#
#   1. an empty rustup home: no toolchain at all;
#   2. the same home with the pinned toolchain but without its wasm targets
#      (the state of issue 16's report).
#
# Each time the command must install what is missing, exit 0 and print the
# events and the summary. The homes are scratch directories
# (RUSTUP_HOME=...), so the machine's own rustup is never touched; the
# cargo target directory is the repository's: a tree already built is
# reused (on a clean clone the first run builds it, as the README says): the
# cost is the downloads, about 30 s. Needs the toolchain server.
set -euo pipefail
cd "$(dirname "$0")/../.."

command_1="$(grep -A1 '^# 1\. ' README.md | sed -n 2p)"
if [ -z "$command_1" ]; then
  echo "fresh_rustup: README.md has no \`# 1. \` command" >&2
  exit 1
fi
channel="$(grep -E '^channel *=' rust-toolchain.toml | cut -d'"' -f2)"
targets="$(grep -E '^targets *=' rust-toolchain.toml | tr -d '[]",' | cut -d= -f2 | xargs)"

scratch="$(mktemp -d "${TMPDIR:-/tmp}/twingate-fresh-rustup.XXXXXX")"
trap 'rm -rf "$scratch"' EXIT
export RUSTUP_HOME="$scratch/rustup" RUSTUP_AUTO_INSTALL=0
unset RUSTUP_TOOLCHAIN
mkdir -p "$RUSTUP_HOME"
# A scratch home would otherwise let rustup replace its own binary, which
# is the machine's.
printf 'version = "12"\nauto_self_update = "disable"\n' > "$RUSTUP_HOME/settings.toml"

installed_targets() {
  rustup target list --installed --toolchain "$channel" 2>/dev/null || true
}

# Runs command 1 from the repository root and checks what it printed.
run_command_1() {
  local name="$1" out="$scratch/$1.out" err="$scratch/$1.err" started=$SECONDS
  if ! bash -c "$command_1" >"$out" 2>"$err"; then
    echo "fresh_rustup: $name: \`$command_1\` failed; its last lines:" >&2
    tail -20 "$err" >&2
    exit 1
  fi
  local summary events errors
  summary="$(grep '^twingate: total: ' "$err" || true)"
  if [[ ! "$summary" =~ →\ ([0-9]+)\ events,\ [0-9]+\ dropped,\ ([0-9]+)\ error\ records,\ 0\ lost ]]; then
    echo "fresh_rustup: $name: no summary with 0 lost on standard error:" >&2
    tail -20 "$err" >&2
    exit 1
  fi
  events="${BASH_REMATCH[1]}" errors="${BASH_REMATCH[2]}"
  local lines objects
  lines="$(wc -l <"$out")"
  objects="$(grep -c '^{.*}$' "$out" || true)"
  if [ "$lines" -ne $((events + errors)) ] || [ "$objects" -ne "$lines" ]; then
    echo "fresh_rustup: $name: $lines output lines ($objects JSON objects) for $events events + $errors error records" >&2
    exit 1
  fi
  for t in $targets; do
    if ! installed_targets | grep -qx "$t"; then
      echo "fresh_rustup: $name: the command ran but $t is not installed in the scratch home" >&2
      exit 1
    fi
  done
  echo "fresh_rustup: $name: ok in $((SECONDS - started)) s: $summary"
}

if [ -n "$(installed_targets)" ]; then
  echo "fresh_rustup: the scratch home is not empty" >&2
  exit 1
fi
run_command_1 "no toolchain"

rustup target remove --toolchain "$channel" $targets 2>/dev/null
left="$(installed_targets | grep -c '^wasm32' || true)"
if [ "$left" -ne 0 ]; then
  echo "fresh_rustup: could not remove the wasm targets from the scratch home" >&2
  exit 1
fi
run_command_1 "toolchain without the wasm targets"
