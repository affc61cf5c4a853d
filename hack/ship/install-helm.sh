#!/usr/bin/env bash
# Builds helm from the Go module proxy once and caches it. Idempotent: prints the binary's path
# and does nothing else when it is already there (or when `helm` of the pinned minor version is
# on PATH).
#
#   hack/ship/install-helm.sh            # prints the path of the helm binary
#
# HELM_VERSION overrides the pinned version; the binary goes to
# ${SWITCHBOARD_CACHE:-$HOME/.cache/switchboard}/bin/helm-$HELM_VERSION/helm.
set -euo pipefail

HELM_VERSION="${HELM_VERSION:-v3.21.4}"
CACHE="${SWITCHBOARD_CACHE:-$HOME/.cache/switchboard}"
DEST="$CACHE/bin/helm-$HELM_VERSION"

if [ -x "$DEST/helm" ]; then
  echo "$DEST/helm"
  exit 0
fi
minor="${HELM_VERSION%.*}" # v3.21
if command -v helm >/dev/null 2>&1 && helm version --template '{{.Version}}' 2>/dev/null | grep -q "^$minor\."; then
  command -v helm
  exit 0
fi

if ! command -v go >/dev/null 2>&1; then
  if [ -x /usr/local/go/bin/go ]; then export PATH="/usr/local/go/bin:$PATH"; else
    echo "install-helm: Go is needed to build helm (not found on PATH or in /usr/local/go/bin)" >&2
    exit 1
  fi
fi

echo "install-helm: building helm $HELM_VERSION into $DEST (one time, a few minutes)" >&2
mkdir -p "$DEST"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
# `go install pkg@version` builds in module mode with the module's own go.mod; GOBIN puts the
# binary straight into the cache directory.
GOBIN="$work" GOWORK=off CGO_ENABLED=0 GOFLAGS="-trimpath" \
  go install -ldflags "-s -w -X helm.sh/helm/v3/internal/version.version=$HELM_VERSION" \
  "helm.sh/helm/v3/cmd/helm@$HELM_VERSION" >&2
mv "$work/helm" "$DEST/helm"
"$DEST/helm" version --short >&2
echo "$DEST/helm"
