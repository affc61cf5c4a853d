#!/usr/bin/env bash
# Copies the generated CRDs (crds/*.yaml, made from the zod schemas by `make crds`) into the chart,
# which renders them from charts/switchboard/files/crds/ (templates/crds.yaml adds the labels and
# the helm.sh/resource-policy annotation). Stale copies are removed. test/ship/chart-crds.test.ts
# fails when the chart's copies differ from crds/.
#
#   hack/ship/sync-chart-crds.sh           copy
#   hack/ship/sync-chart-crds.sh --check   exit 1 (and say which) when the chart is stale
set -euo pipefail
cd "$(dirname "$0")/../.."
DEST=charts/switchboard/files/crds
mkdir -p "$DEST"
stale=()
for src in crds/*.switchboard.dev.yaml; do
  name="$(basename "$src")"
  cmp -s "$src" "$DEST/$name" || stale+=("$name")
done
for dst in "$DEST"/*.yaml; do
  [ -e "$dst" ] || continue
  [ -e "crds/$(basename "$dst")" ] || stale+=("$(basename "$dst") (no longer generated)")
done
if [ "${1:-}" = --check ]; then
  if [ ${#stale[@]} -gt 0 ]; then
    printf 'chart CRDs are stale: %s\nrun hack/ship/sync-chart-crds.sh\n' "${stale[*]}" >&2
    exit 1
  fi
  echo "chart CRDs are up to date"
  exit 0
fi
for dst in "$DEST"/*.yaml; do
  [ -e "$dst" ] || continue
  [ -e "crds/$(basename "$dst")" ] || { rm "$dst"; echo "removed $dst"; }
done
for src in crds/*.switchboard.dev.yaml; do
  name="$(basename "$src")"
  cmp -s "$src" "$DEST/$name" || { cp "$src" "$DEST/$name"; echo "wrote $DEST/$name"; }
done
