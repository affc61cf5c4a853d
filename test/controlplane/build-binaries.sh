#!/usr/bin/env bash
# Builds the local control plane (kube-apiserver + etcd) from the Go module proxy and
# caches the binaries. Idempotent: does nothing when the binaries are already cached.
#
#   test/controlplane/build-binaries.sh [DEST_DIR]
#
# DEST_DIR defaults to ${SWITCHBOARD_CACHE:-$HOME/.cache/switchboard}/bin/k8s-$KUBE_VERSION-etcd-$ETCD_VERSION
set -euo pipefail

KUBE_VERSION="${KUBE_VERSION:-v1.34.4}"
ETCD_VERSION="${ETCD_VERSION:-v3.6.16}"
CACHE="${SWITCHBOARD_CACHE:-$HOME/.cache/switchboard}"
DEST="${1:-$CACHE/bin/k8s-$KUBE_VERSION-etcd-$ETCD_VERSION}"

if ! command -v go >/dev/null 2>&1; then
  if [ -x /usr/local/go/bin/go ]; then export PATH="/usr/local/go/bin:$PATH"; else
    echo "build-binaries: Go is needed to build kube-apiserver and etcd (not found on PATH)" >&2; exit 1
  fi
fi

mkdir -p "$DEST"
export GOWORK=off GOFLAGS=-mod=mod CGO_ENABLED=0
staging_version="v0${KUBE_VERSION#v1}"   # v1.34.4 -> v0.34.4

build_apiserver() {
  local work; work="$(mktemp -d)"
  trap 'rm -rf "$work"' RETURN
  cd "$work"
  go mod init switchboard.local/kube-apiserver-build >/dev/null 2>&1
  local mods=(api apiextensions-apiserver apimachinery apiserver cli-runtime client-go cloud-provider
    cluster-bootstrap code-generator component-base component-helpers controller-manager cri-api
    cri-client csi-translation-lib dynamic-resource-allocation endpointslice externaljwt kms
    kube-aggregator kube-controller-manager kube-proxy kube-scheduler kubectl kubelet metrics
    mount-utils pod-security-admission sample-apiserver sample-cli-plugin sample-controller)
  for m in "${mods[@]}"; do
    go mod edit -replace "k8s.io/$m=k8s.io/$m@$staging_version"
  done
  go mod edit -require "k8s.io/kubernetes@$KUBE_VERSION"
  go get "k8s.io/kubernetes/cmd/kube-apiserver@$KUBE_VERSION"
  go build -trimpath -ldflags "-s -w -X k8s.io/component-base/version.gitVersion=$KUBE_VERSION -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=$(echo "$KUBE_VERSION" | cut -d. -f2)" \
    -o "$DEST/kube-apiserver.tmp" k8s.io/kubernetes/cmd/kube-apiserver
  mv "$DEST/kube-apiserver.tmp" "$DEST/kube-apiserver"
}

build_etcd() {
  local work; work="$(mktemp -d)"
  trap 'rm -rf "$work"' RETURN
  cd "$work"
  go mod init switchboard.local/etcd-build >/dev/null 2>&1
  go get "go.etcd.io/etcd/server/v3@$ETCD_VERSION"
  go build -trimpath -ldflags "-s -w" -o "$DEST/etcd.tmp" go.etcd.io/etcd/server/v3
  mv "$DEST/etcd.tmp" "$DEST/etcd"
}

if [ ! -x "$DEST/etcd" ]; then
  echo "build-binaries: building etcd $ETCD_VERSION into $DEST (one time)" >&2
  build_etcd
fi
if [ ! -x "$DEST/kube-apiserver" ]; then
  echo "build-binaries: building kube-apiserver $KUBE_VERSION into $DEST (one time, 10-20 minutes)" >&2
  build_apiserver
fi
echo "$DEST"
