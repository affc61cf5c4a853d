#!/usr/bin/env bash
# Installs what Switchboard needs on a fresh machine, and nothing when it is all there:
#   - Node.js >= 22.19 (Node 24 from the npm registry when the system Node is older),
#   - the npm packages (npm ci, only when package-lock.json changed),
#   - the local control plane binaries (kube-apiserver + etcd, built once from the Go module proxy),
#   - promtool (Debian's prometheus package), used to check the metrics we export,
#   - PostgreSQL 15 (Debian's postgresql package): the Postgres destination's tests, demo and bench.
#   - Chromium (Debian's chromium package): the connect-link test drives it headless.
# Idempotent; prints what it does. Run through `make setup`.
set -euo pipefail
cd "$(dirname "$0")/.."

CACHE="${SWITCHBOARD_CACHE:-$HOME/.cache/switchboard}"
NODE_PREFIX="$CACHE/node24"
export PATH="$NODE_PREFIX/node_modules/.bin:/usr/local/go/bin:$PATH"

say() { printf 'setup: %s\n' "$*" >&2; }

node_ok() {
  command -v node >/dev/null 2>&1 || return 1
  node -e 'const [a,b]=process.versions.node.split(".").map(Number); process.exit(a>22||(a===22&&b>=19)?0:1)'
}

# 1. Node.js
if ! node_ok; then
  say "Node.js >= 22.19 not found (have: $(node --version 2>/dev/null || echo none)); installing Node 24 into $NODE_PREFIX"
  command -v npm >/dev/null 2>&1 || { say "npm is needed to install Node 24 (apt-get install npm)"; exit 1; }
  mkdir -p "$NODE_PREFIX"
  # The `node` package brings its binary in a preinstall script. npm 11.19 and later run a
  # dependency's install scripts only when the project's package.json lists it in
  # `allowScripts` (and refuse --allow-scripts for project installs); older npm ignores the field.
  cat > "$NODE_PREFIX/package.json" <<'JSON'
{
  "name": "switchboard-node24",
  "private": true,
  "description": "Node 24 for Switchboard, installed by hack/setup.sh",
  "allowScripts": { "node": true }
}
JSON
  (cd "$NODE_PREFIX" && npm install --no-audit --no-fund node@24 >&2)
  hash -r # forget the older node this shell found before the install
  node_ok || { say "Node 24 install failed"; exit 1; }
fi

# 2. npm packages
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  say "installing npm packages with Node $(node --version)"
  # `npm install` with the committed lock rather than `npm ci`: the registry these machines reach
  # does not serve other platforms' optional binaries (biome's darwin/win32 builds), so the lock
  # cannot list them and `npm ci` refuses it. `npm install` installs exactly the locked versions.
  npm install --no-audit --no-fund >&2
fi

# 3. control plane binaries (unless KUBEBUILDER_ASSETS or PATH already has them)
if [ -n "${KUBEBUILDER_ASSETS:-}" ] && [ -x "$KUBEBUILDER_ASSETS/kube-apiserver" ] && [ -x "$KUBEBUILDER_ASSETS/etcd" ]; then
  :
elif command -v kube-apiserver >/dev/null 2>&1 && command -v etcd >/dev/null 2>&1; then
  :
else
  bash test/controlplane/build-binaries.sh >/dev/null
fi

# 4. promtool
if ! command -v promtool >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    say "installing promtool (Debian package prometheus)"
    apt-get update -qq >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends prometheus >&2
  else
    say "promtool not found: install Debian's prometheus package (the metrics test needs it)"
    exit 1
  fi
fi
# 5. PostgreSQL server binaries (test/postgres starts a throwaway server from them)
PG_BIN="${SWITCHBOARD_PG_BIN:-/usr/lib/postgresql/15/bin}"
if [ ! -x "$PG_BIN/postgres" ] || [ ! -x "$PG_BIN/initdb" ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    say "installing PostgreSQL (Debian package postgresql)"
    apt-get update -qq >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends postgresql >&2
  else
    say "PostgreSQL server binaries not found in $PG_BIN: install Debian's postgresql package or set SWITCHBOARD_PG_BIN"
    exit 1
  fi
fi
# 6. helm (built once from the Go module proxy), Lua (Argo CD health tests), kubectl (demo, chart dry runs)
bash hack/ship/install-helm.sh >/dev/null
missing=()
command -v lua5.1 >/dev/null 2>&1 || missing+=(lua5.1)
command -v lua5.4 >/dev/null 2>&1 || missing+=(lua5.4)
command -v kubectl >/dev/null 2>&1 || missing+=(kubectl)
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    say "installing ${missing[*]}"
    apt-get update -qq >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
  else
    say "install ${missing[*]} (apt-get install ${missing[*]})"
    exit 1
  fi
fi
say "ready: node $(node --version), $(command -v promtool), $(command -v lua5.1)"
