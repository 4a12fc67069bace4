#!/usr/bin/env bash
# Builds the npm package (wasm-bindgen, into js/pkg/) and the WebAssembly
# component (wasm32-wasip2) with its jco transpilation (into js/component/).
#
# Needs: the rustup targets wasm32-unknown-unknown and wasm32-wasip2,
# Node >= 18 and npm. Installs wasm-bindgen-cli 0.2.130 (`cargo install
# wasm-bindgen-cli --version 0.2.130`, without --locked) and the npm dev
# dependencies (jco, preview2-shim, with `npm ci`) when they are missing.
# Then: `cd js && npm test`.
set -euo pipefail
js="$(cd "$(dirname "$0")" && pwd)"
root="$(dirname "$js")"
cd "$root"

want_bindgen=0.2.130
have_bindgen="$(wasm-bindgen --version 2>/dev/null | awk '{print $2}' || true)"
if [ "$have_bindgen" != "$want_bindgen" ]; then
  # Once per machine, about 6 minutes. Without --locked: a locked dependency
  # of 0.2.130 is missing from the registry.
  echo "build.sh: installing wasm-bindgen-cli $want_bindgen (found: ${have_bindgen:-none})" >&2
  cargo install wasm-bindgen-cli --version "$want_bindgen"
fi

echo "== npm package: core + src/js.rs for wasm32-unknown-unknown (target/js, so the Fluent Bit module in target/ is untouched)"
# Unstripped (the Fluent Bit module is stripped, see Cargo.toml): wasm-bindgen
# reads the target_features section.
cargo build --release -p twingate-analytics --target wasm32-unknown-unknown --features js --target-dir target/js \
  --config 'profile.release.package.twingate-analytics.strip="none"'
rm -rf "$js/pkg"
wasm-bindgen --target nodejs --out-dir "$js/pkg" \
  target/js/wasm32-unknown-unknown/release/twingate_analytics.wasm

echo "== component: wasm32-wasip2"
cargo build --release -p twingate-component --target wasm32-wasip2

echo "== component for Node: jco transpile"
if [ ! -x "$js/node_modules/.bin/jco" ]; then
  (cd "$js" && npm ci --no-audit --no-fund)
fi
rm -rf "$js/component"
"$js/node_modules/.bin/jco" transpile target/wasm32-wasip2/release/twingate_component.wasm \
  --name twingate_component --quiet -o "$js/component"
# jco writes ES modules; the package itself is CommonJS.
echo '{ "type": "module" }' > "$js/component/package.json"

echo "== built: js/pkg/ (npm package), target/wasm32-wasip2/release/twingate_component.wasm, js/component/"
