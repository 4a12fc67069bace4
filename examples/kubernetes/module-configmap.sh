#!/usr/bin/env bash
# Prints the ConfigMap that carries the wasm module to the Fluent Bit pods
# (as binaryData), made from the module you built, so no stale copy is ever
# committed:
#
#   cargo build --release -p twingate-analytics --target wasm32-unknown-unknown
#   bash examples/kubernetes/module-configmap.sh | kubectl apply -f -
#
# Arguments: [MODULE] [NAMESPACE]; by default the module built in this
# repository and the namespace of fluent-bit-daemonset.yaml. The same as
#   kubectl -n twingate-analytics create configmap twingate-analytics-wasm \
#       --from-file=twingate_analytics.wasm=MODULE --dry-run=client -o yaml
# without needing kubectl. A ConfigMap holds at most 1 MiB; the module is
# about 80 KB (110 KB in base64). tests/deploy/test_deploy.py checks the
# output against the Kubernetes schema and the module byte for byte.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
module="${1:-$here/../../target/wasm32-unknown-unknown/release/twingate_analytics.wasm}"
namespace="${2:-twingate-analytics}"
if [ ! -f "$module" ]; then
  echo "module-configmap.sh: no module at $module: build it with" \
    "\`cargo build --release -p twingate-analytics --target wasm32-unknown-unknown\`" \
    "or pass its path" >&2
  exit 1
fi
size=$(wc -c < "$module")
# 1 MiB for the whole object; base64 adds a third, the rest is headroom.
if [ "$size" -gt 700000 ]; then
  echo "module-configmap.sh: $module is $size bytes; in base64 it would not fit" \
    "a ConfigMap (1 MiB): deliver it with an init container instead" >&2
  exit 1
fi
cat <<YAML
apiVersion: v1
kind: ConfigMap
metadata:
  name: twingate-analytics-wasm
  namespace: $namespace
  labels:
    app.kubernetes.io/name: twingate-fluent-bit
  annotations:
    twingate-analytics/module-bytes: "$size"
binaryData:
  twingate_analytics.wasm: $(base64 < "$module" | tr -d '\n')
YAML
