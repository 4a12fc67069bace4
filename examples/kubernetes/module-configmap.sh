#!/usr/bin/env bash
# Prints the ConfigMap that carries the wasm module to the Fluent Bit pods
# (as binaryData), made from the module you built or downloaded, so no stale
# copy is ever committed:
#
#   bash scripts/twingate.sh examples/logs    # builds the module (the README's command 1)
#   bash examples/kubernetes/module-configmap.sh | kubectl apply -f -
#
# (`bash scripts/dist.sh` writes the same ConfigMap, for the module of
# dist/, as dist/twingate-analytics-VERSION.configmap.yaml.)
#
# Arguments: [MODULE] [NAMESPACE]; by default the module built in this
# repository and the namespace of fluent-bit-daemonset.yaml. The key is the
# module's release name, twingate-analytics-VERSION.wasm (VERSION from
# Cargo.toml; `bash scripts/dist.sh --name module`), which the DaemonSet
# mounts and the config's wasm_path names: a new version changes the pod
# template, so the pods roll and load the new module. The same as
#   kubectl -n twingate-analytics create configmap twingate-analytics-wasm \
#       --from-file=twingate-analytics-VERSION.wasm=MODULE --dry-run=client -o yaml
# without needing kubectl. A ConfigMap holds at most 1 MiB; the module is
# about 100 KB (130 KB in base64). tests/deploy/test_deploy.py checks the
# output against the Kubernetes schema and the module byte for byte.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
module="${1:-$here/../../target/wasm32-unknown-unknown/release/twingate_analytics.wasm}"
namespace="${2:-twingate-analytics}"
key="$(bash "$here/../../scripts/dist.sh" --name module)"
if [ ! -f "$module" ]; then
  echo "module-configmap.sh: no module at $module: build it with" \
    "\`bash scripts/twingate.sh examples/logs\` (or \`bash scripts/dist.sh\`)" \
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
    twingate-analytics/module-sha256: "$(sha256sum < "$module" | cut -d' ' -f1)"
binaryData:
  $key: $(base64 < "$module" | tr -d '\n')
YAML
