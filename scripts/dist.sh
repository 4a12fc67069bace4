#!/usr/bin/env bash
# Builds every deployable artifact into dist/, each with the version in its
# name, plus SHA256SUMS and MANIFEST.md (what each file is, what it runs in,
# what it was tested with):
#
#   bash scripts/dist.sh                # build dist/ (sets up what is missing)
#   bash scripts/dist.sh --name KIND    # print one file name, build nothing
#   (cd dist && sha256sum -c SHA256SUMS)
#
# KIND: module, aot-x86_64, aot-aarch64, wasi, component, npm, configmap,
# vector. The AOT modules are made when Fluent Bit's AOT compiler is at
# hand: FLB_WAMRC, else flb-wamrc beside FLUENT_BIT, else on PATH (it needs
# the libllvm19 package); without it they are left out, saying so once,
# unless TWINGATE_REQUIRE_REAL_HOSTS=1 (CI), where that is a failure.
#
# A script rather than `cargo xtask dist`: its first step installs the
# pinned toolchain, which cargo cannot do for itself when rustup's
# auto-install is off, and the rest runs other tools (npm pack, flb-wamrc,
# sha256sum); the builds are the very commands .ci/test runs, so after the
# tests this only copies, compiles AOT and packs (about 20 s).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"

# The version of the twingate-analytics crate (the [package] of Cargo.toml).
version="$(sed -n '/^\[package\]/,/^\[/s/^version *= *"\(.*\)"/\1/p' "$root/Cargo.toml")"
if [ -z "$version" ]; then
  echo "dist.sh: no version in the [package] section of $root/Cargo.toml" >&2
  exit 1
fi

dist_name() {
  local prefix="twingate-analytics-$version"
  case "$1" in
    module) echo "$prefix.wasm" ;;
    aot-x86_64) echo "$prefix.x86_64.aot" ;;
    aot-aarch64) echo "$prefix.aarch64.aot" ;;
    wasi) echo "$prefix.wasi.wasm" ;;
    component) echo "$prefix.component.wasm" ;;
    npm) echo "twingate-analytics-transform-$version.tgz" ;;
    configmap) echo "$prefix.configmap.yaml" ;;
    vector) echo "$prefix.vector.toml" ;;
    *)
      echo "dist.sh: unknown kind \`$1\` (module, aot-x86_64, aot-aarch64, wasi, component, npm, configmap, vector)" >&2
      return 2
      ;;
  esac
}

if [ "${1:-}" = "--name" ]; then
  dist_name "${2:?dist.sh --name KIND}"
  exit 0
elif [ $# -gt 0 ]; then
  echo "dist.sh: usage: bash scripts/dist.sh [--name KIND]" >&2
  exit 2
fi

cd "$root"
npm_version="$(node -p 'require("./js/package.json").version')"
if [ "$npm_version" != "$version" ]; then
  echo "dist.sh: js/package.json says $npm_version, Cargo.toml says $version: make them equal" >&2
  exit 1
fi

# Fluent Bit's AOT compiler, found as tests/support/real_host.rs finds it.
find_flb_wamrc() {
  if [ -n "${FLB_WAMRC:-}" ]; then
    if [ ! -x "$FLB_WAMRC" ]; then
      echo "dist.sh: FLB_WAMRC=$FLB_WAMRC is not an executable file: point it at flb-wamrc, or unset it" >&2
      return 1
    fi
    echo "$FLB_WAMRC"
  elif [ -n "${FLUENT_BIT:-}" ] && [ -x "$(dirname "$FLUENT_BIT")/flb-wamrc" ]; then
    echo "$(dirname "$FLUENT_BIT")/flb-wamrc"
  else
    command -v flb-wamrc || true
  fi
}
flb_wamrc="$(find_flb_wamrc)"
if [ -z "$flb_wamrc" ] && [ "${TWINGATE_REQUIRE_REAL_HOSTS:-}" = 1 ]; then
  echo "dist.sh: TWINGATE_REQUIRE_REAL_HOSTS=1 but no flb-wamrc was found: set FLB_WAMRC, or FLUENT_BIT with flb-wamrc beside it" >&2
  exit 1
fi

source scripts/setup.sh
setup_rust

echo "== dist: building (the commands .ci/test runs)" >&2
cargo build --release -p twingate-analytics --target wasm32-unknown-unknown
cargo run --release -q -p wamr-tune -- target/wasm32-unknown-unknown/release/twingate_analytics.wasm
js/build.sh
cargo build --release -p twingate-cli --target wasm32-wasip1 --no-default-features

rm -rf dist
mkdir dist
module="dist/$(dist_name module)"
cp target/wasm32-unknown-unknown/release/twingate_analytics.wasm "$module"
cp target/wasm32-wasip1/release/twingate.wasm "dist/$(dist_name wasi)"
cp target/wasm32-wasip2/release/twingate_component.wasm "dist/$(dist_name component)"
cp vector.toml "dist/$(dist_name vector)"
bash examples/kubernetes/module-configmap.sh "$module" > "dist/$(dist_name configmap)"
packed="$(cd js && npm pack --silent --pack-destination ../dist)"
if [ "$packed" != "$(dist_name npm)" ]; then
  echo "dist.sh: npm pack wrote $packed, expected $(dist_name npm)" >&2
  exit 1
fi

wamr_note="not built: no flb-wamrc where dist/ was built"
if [ -n "$flb_wamrc" ]; then
  for arch in x86_64 aarch64; do
    "$flb_wamrc" --target="$arch" --cpu=generic -o "dist/$(dist_name "aot-$arch")" "$module" >/dev/null
  done
  wamr_note="$("$flb_wamrc" --version 2>&1 | head -1)"
else
  echo "dist.sh: no flb-wamrc, so no AOT modules (set FLB_WAMRC=/path/to/flb-wamrc, or FLUENT_BIT with flb-wamrc beside it)" >&2
fi

# What the tests run each artifact in, read from the pins and the hosts at
# hand, for the manifest.
locked() { # crate -> its version in Cargo.lock
  grep -A1 "^name = \"$1\"$" Cargo.lock | sed -n 's/^version = "\(.*\)"/\1/p' | head -1
}
pinned_py() { sed -n "s/^$1==//p" tests/python/requirements.txt; }
host_version() { # ENV_VAR command -> "name version" or "not at hand"
  local path="${!1:-}"
  [ -n "$path" ] || path="$(command -v "$2" || true)"
  if [ -n "$path" ] && [ -x "$path" ]; then
    "$path" --version 2>/dev/null | head -1
  else
    echo "not at hand where dist/ was built"
  fi
}
fluent_bit="$(host_version FLUENT_BIT fluent-bit)"
vector="$(host_version VECTOR vector)"
node="Node $(node --version)"
wasmtime="wasmtime $(locked wasmtime)"
commit="$(git rev-parse --short HEAD 2>/dev/null || echo unknown)"
if [ -n "$(git status --porcelain 2>/dev/null)" ]; then
  commit="$commit (with uncommitted changes)"
fi

size() { wc -c < "dist/$1" | tr -d ' '; }
row() { # kind, what, tested with
  local file
  file="$(dist_name "$1")"
  if [ -f "dist/$file" ]; then
    printf '| `%s` | %s B | %s | %s |\n' "$file" "$(size "$file")" "$2" "$3"
  fi
}
{
  echo "# twingate-analytics $version"
  echo
  echo "Built by \`bash scripts/dist.sh\` from commit $commit, with $(rustc --version | cut -d' ' -f1-2)."
  echo "Check the files with \`sha256sum -c SHA256SUMS\`. Deployment: docs/deploy.md."
  echo
  echo "| file | size | what it is | tested with |"
  echo "|---|---|---|---|"
  row module "the Fluent Bit module for the \`wasm\` filter's \`wasm_path\` (wasm32, no imports; exports \`twingate_flatten\`, \`twingate_ecs\`, \`twingate_ocsf\` and their \`_keep\` variants)" \
    "$fluent_bit (interpreted); the twin host ($wasmtime crate)"
  row aot-x86_64 "the module compiled ahead of time for x86-64 (any CPU: \`--cpu=generic\`) by Fluent Bit's flb-wamrc ($wamr_note); loads only in the Fluent Bit release whose WAMR made it" \
    "$fluent_bit"
  row aot-aarch64 "the same for ARM64 (aarch64)" "compiled only: no ARM64 machine here"
  row wasi "the \`twingate\` CLI as a WASI command (the core natively, no host inside): \`wasmtime run FILE --format journal -\`" \
    "wasmtime $(pinned_py wasmtime) (Python package)"
  row component "the WebAssembly component, WIT world \`twingate:analytics/analytics@0.1.0\`" \
    "$wasmtime crate (component model); jco $(node -p 'require("./js/package.json").devDependencies["@bytecodealliance/jco"]') in $node"
  row npm "the npm package \`@twingate-analytics/transform\` (\`npm install ./FILE\`)" "$node"
  row configmap "the Kubernetes ConfigMap \`twingate-analytics-wasm\` carrying the module (for examples/kubernetes/)" \
    "Kubernetes API schemas 1.32 and 1.37 (kubernetes-validate $(pinned_py kubernetes-validate))"
  row vector "\`vector.toml\`: the same transform in VRL for Vector's \`remap\` (journald source)" "$vector"
} > dist/MANIFEST.md

chmod 644 dist/*
(cd dist && sha256sum -- * > SHA256SUMS.tmp && mv SHA256SUMS.tmp SHA256SUMS)
(cd dist && sha256sum --quiet -c SHA256SUMS)
echo "== dist/ (version $version):" >&2
(cd dist && ls -l) >&2
