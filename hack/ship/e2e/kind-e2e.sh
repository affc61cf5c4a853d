#!/usr/bin/env bash
# make kind-e2e: the newcomer's path end to end, on a kind cluster.
#   1. creates a kind cluster (KIND_CLUSTER, default switchboard-e2e) unless it exists,
#   2. builds the image and the sandbox image (`--target sandbox`) and loads both into kind,
#   3. runs the provider sandbox in the cluster (hack/ship/e2e/sandbox.yaml),
#   4. installs the chart (hack/ship/e2e/values.yaml) and waits for the rollout,
#   5. applies examples/ with their endpoints pointed at the in-cluster sandbox,
#   6. waits until every Switchboard resource is Ready, and prints them.
# The cluster is deleted at the end unless KEEP_CLUSTER=1. Needs docker, kind, kubectl and helm.
set -euo pipefail
cd "$(dirname "$0")/../../.."
CLUSTER="${KIND_CLUSTER:-switchboard-e2e}"
NS=switchboard-system
SANDBOX_URL=http://sandbox.switchboard-sandbox.svc:8600
say() { printf 'kind-e2e: %s\n' "$*" >&2; }

for tool in docker kind kubectl helm; do
  command -v "$tool" >/dev/null || { say "$tool is needed"; exit 1; }
done

cleanup() {
  if [ "${KEEP_CLUSTER:-0}" != 1 ]; then
    say "deleting the cluster (KEEP_CLUSTER=1 keeps it)"
    kind delete cluster --name "$CLUSTER" >/dev/null 2>&1 || true
  fi
}
trap cleanup EXIT

if ! kind get clusters 2>/dev/null | grep -qx "$CLUSTER"; then
  say "creating kind cluster $CLUSTER"
  kind create cluster --name "$CLUSTER" --wait 120s
fi
export KUBECONFIG="${KUBECONFIG_E2E:-$(mktemp)}"
kind get kubeconfig --name "$CLUSTER" >"$KUBECONFIG"

say "building the images"
docker build -t switchboard:e2e .
docker build --target sandbox -t switchboard-sandbox:e2e .
kind load docker-image --name "$CLUSTER" switchboard:e2e switchboard-sandbox:e2e

say "starting the provider sandbox"
kubectl create namespace switchboard-sandbox --dry-run=client -o yaml | kubectl apply -f -
kubectl -n switchboard-sandbox create configmap sandbox-config \
  --from-file=config.json=hack/demo-sandbox.json --dry-run=client -o yaml | kubectl apply -f -
kubectl apply -f hack/ship/e2e/sandbox.yaml
kubectl -n switchboard-sandbox rollout status deploy/sandbox --timeout=120s
kubectl -n switchboard-sandbox rollout status deploy/postgres --timeout=180s

say "installing the chart"
helm upgrade --install switchboard charts/switchboard --namespace "$NS" --create-namespace \
  -f hack/ship/e2e/values.yaml --wait --timeout 5m
kubectl -n "$NS" rollout status deploy/switchboard --timeout=120s

say "applying examples/ against the in-cluster sandbox"
for f in examples/*.yaml; do
  sed -e "s#http://127.0.0.1:18600#$SANDBOX_URL#g" -e "s#@127.0.0.1:18632/#@postgres.switchboard-sandbox.svc:5432/#g" "$f"
  echo "---"
done | kubectl apply -f -

say "waiting for every Switchboard resource to be Ready"
mapfile -t resources < <(kubectl get switchboard -A -o jsonpath='{range .items[*]}{.metadata.namespace}{" "}{.kind}/{.metadata.name}{"\n"}{end}')
[ "${#resources[@]}" -gt 0 ] || { say "no Switchboard resources were created"; exit 1; }
for r in "${resources[@]}"; do
  kubectl wait --for=condition=Ready --timeout=300s -n "${r%% *}" "${r#* }" || {
    kubectl describe -n "${r%% *}" "${r#* }" >&2
    kubectl -n "$NS" logs deploy/switchboard -c controller --tail=100 >&2
    exit 1
  }
done
kubectl get switchboard -A
say "ok: ${#resources[@]} resources Ready"
