#!/usr/bin/env bash
# Lints the Dockerfile: dockerfile-utils (the linter of the VS Code Docker tooling; hadolint is not
# packaged by Debian and its prebuilt binaries cannot be fetched here), installed once into the
# cache from the npm registry, then Switchboard's own image rules (hack/ship/dockerfile.ts policy:
# pinned base, numeric non-root USER, exec-form ENTRYPOINT running node directly, production
# dependencies only, no tests or tools in the image, .dockerignore as an allow-list).
# Every linter finding fails, warnings included.
set -euo pipefail
cd "$(dirname "$0")/../.."
CACHE="${SWITCHBOARD_CACHE:-$HOME/.cache/switchboard}"
export PATH="$CACHE/node24/node_modules/.bin:$PATH"
VERSION=0.16.3
TOOL="$CACHE/tools/dockerfile-utils-$VERSION"
if [ ! -x "$TOOL/node_modules/.bin/dockerfile-utils" ]; then
  echo "lint-dockerfile: installing dockerfile-utils $VERSION into $TOOL (one time)" >&2
  mkdir -p "$TOOL"
  npm install --no-audit --no-fund --no-save --loglevel=warn --prefix "$TOOL" "dockerfile-utils@$VERSION" >&2
fi
findings="$("$TOOL/node_modules/.bin/dockerfile-utils" lint --json Dockerfile || true)"
if [ "$(node -e 'process.stdout.write(String(JSON.parse(process.argv[1] || "[]").length))' "$findings")" != 0 ]; then
  echo "lint-dockerfile: dockerfile-utils findings:" >&2
  "$TOOL/node_modules/.bin/dockerfile-utils" lint Dockerfile >&2 || true
  exit 1
fi
echo "dockerfile-utils lint: ok"
node hack/ship/dockerfile.ts policy
