#!/usr/bin/env bash
# Checks the container image without a container engine: rebuilds exactly what the Dockerfile
# puts into the image and runs it the way a pod would.
#
#   1. lints the Dockerfile (hack/ship/lint-dockerfile.sh);
#   2. rebuilds each stage the final one copies from (the build stage: every locked dependency, then
#      the bundle): its COPY sources, filtered by .dockerignore (hack/ship/dockerfile.ts assemble),
#      then its RUN lines;
#   3. copies what the final stage takes from those stages (the bundle) and reports the size;
#   4. makes the copy read-only and runs the image's entry command as uid/gid 65532 with a
#      read-only HOME, as PID 1 of a fresh PID namespace (as in a container):
#      `controller --help`, `webhooks --help`, then the controller and the webhook server against a
#      local control plane for a few seconds: health endpoints answer, SIGTERM ends each with 0,
#      and nothing was written anywhere but the temp dir.
#
#   hack/ship/check-image.sh            needs root (setpriv, unshare), Node 24, npm, Go-built
#                                       control plane binaries (as make setup installs)
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT="$PWD"
CACHE="${SWITCHBOARD_CACHE:-$HOME/.cache/switchboard}"
export PATH="$CACHE/node24/node_modules/.bin:/usr/local/go/bin:$PATH"
UIDGID=65532

say() { printf 'check-image: %s\n' "$*" >&2; }
fail() { say "FAIL: $*"; exit 1; }

[ "$(id -u)" = 0 ] || fail "run as root (it switches to uid $UIDGID with setpriv and uses unshare)"
command -v setpriv >/dev/null || fail "setpriv not found (util-linux)"
command -v unshare >/dev/null || fail "unshare not found (util-linux)"

WORK="$(mktemp -d "${TMPDIR:-/tmp}/switchboard-image.XXXXXX")"
PIDS=()
cleanup() {
  for pid in "${PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
  chmod -R u+w "$WORK" 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT
chmod 755 "$WORK"
APP="$WORK/app"
mkdir -p "$APP"

say "1/4 lint"
bash hack/ship/lint-dockerfile.sh >&2

say "2/4 build stage: every locked dependency, then the bundle"
PLAN="$(node hack/ship/dockerfile.ts plan)"
plan() { node -e "const p=JSON.parse(process.argv[1]); const v=($1); process.stdout.write(Array.isArray(v)?v.join('\n'):String(v))" "$PLAN"; }
# Each stage the final one copies from is rebuilt in a directory of its own, standing for its
# WORKDIR: its context COPYs (filtered by .dockerignore), then its RUN lines in order.
for from in $(plan '[...new Set(p.copies.filter((c) => c.from !== undefined).map((c) => c.from))]'); do
  dir="$WORK/stage-$from"
  mkdir -p "$dir"
  node hack/ship/dockerfile.ts assemble --target "$from" --out "$dir" >&2
  started=$SECONDS
  while IFS= read -r run; do
    [ -n "$run" ] || continue
    say "  [$from] RUN $run"
    (cd "$dir" && sh -c "$run") >&2
  done <<<"$(plan "p.stages['$from'].runs")"
  say "  [$from] took $((SECONDS - started)) s"
done

say "3/4 final stage: what it copies"
node hack/ship/dockerfile.ts assemble --out "$APP" >&2
# COPY --from=STAGE /WORKDIR/path dest: from the directory that stood for that stage
while IFS=$'\t' read -r from src dest; do
  [ -n "$from" ] || continue
  workdir="$(plan "p.stages['$from'].workdir")"
  rel="${src#"$workdir"/}"
  [ "$rel" != "$src" ] || fail "COPY --from=$from $src: not under the stage's WORKDIR $workdir"
  mkdir -p "$APP/$(dirname "${dest#./}")"
  cp -a "$WORK/stage-$from/$rel" "$APP/${dest#./}"
done <<<"$(plan 'p.copies.filter((c) => c.from !== undefined).flatMap((c) => c.sources.map((s) => [c.from, s, c.dest].join("\t")))')"
find "$APP" -name '*.test.ts' | grep -q . && fail "test files ended up in the image"
[ -e "$APP/node_modules" ] && fail "node_modules ended up in the image (the bundle needs none)"
total_bytes=$(du -sb "$APP" | cut -f1)
mib() { awk -v b="$1" 'BEGIN { printf "%.1f MiB", b / 1048576 }'; }
say "  contents: $(cd "$APP" && find . -type f | sort | tr '\n' ' ')"
say "  added to the base image: $(mib "$total_bytes") in $(find "$APP" -type f | wc -l) files"
echo "IMAGE_CONTENT_BYTES=$total_bytes"

say "4/4 run as uid $UIDGID, read-only, Node as PID 1"
# The Node binary, readable by the unprivileged user (Node 24, as in the base image).
mkdir -p "$WORK/node"
cp "$(readlink -f "$(command -v node)")" "$WORK/node/node"
chmod 755 "$WORK/node" "$WORK/node/node"
mkdir -p "$WORK/home" "$WORK/tmp"
chown "$UIDGID:$UIDGID" "$WORK/tmp"
chmod -R a-w "$APP" "$WORK/home"
# what the image runs: ENTRYPOINT + CMD, in WORKDIR, as USER, with its ENV
mapfile -t ENTRY < <(plan 'p.entrypoint')
as_image() { # extra env... -- args...
  local env=(PATH=/usr/bin:/bin NODE_ENV=production HOME="$WORK/home" TMPDIR="$WORK/tmp")
  while [ "$1" != -- ]; do env+=("$1"); shift; done
  shift
  (cd "$APP" && exec unshare --pid --fork --kill-child \
    setpriv --reuid="$UIDGID" --regid="$UIDGID" --clear-groups --no-new-privs \
    env -i "${env[@]}" "$WORK/node/node" "${ENTRY[@]:1}" "$@")
}

as_image -- controller --help | grep -q -- '--leader-elect' || fail "controller --help"
say "  controller --help: ok"
if as_image -- webhooks --help >"$WORK/webhooks-help.txt" 2>&1 && grep -q -- '--bind-address' "$WORK/webhooks-help.txt"; then
  say "  webhooks --help: ok"
else
  cat "$WORK/webhooks-help.txt" >&2
  fail "webhooks --help (is the webhooks command wired into bin/switchboard.ts, and in the bundle?)"
fi

say "  starting a local control plane"
node test/controlplane/cli.ts --kubeconfig "$WORK/kubeconfig" >"$WORK/controlplane.log" 2>&1 &
PIDS+=($!)
for _ in $(seq 1 600); do grep -q '^KUBECONFIG=' "$WORK/controlplane.log" && break; sleep 0.2; done
grep -q '^KUBECONFIG=' "$WORK/controlplane.log" || { tail -20 "$WORK/controlplane.log" >&2; fail "control plane did not start"; }
chmod 644 "$WORK/kubeconfig"
KUBECONFIG="$WORK/kubeconfig" node crds/install.ts >/dev/null

# run_server NAME READY_MSG ARGS...: starts it, waits for READY_MSG, probes /healthz and /readyz on
# the port it logged, sends SIGTERM to PID 1 of its namespace and expects exit 0.
run_server() {
  local name="$1" ready="$2"
  shift 2
  local log="$WORK/$name.log"
  as_image POD_NAMESPACE=default POD_NAME="$name-0" -- "$@" >"$log" 2>&1 &
  local outer=$!
  PIDS+=("$outer")
  local port=""
  for _ in $(seq 1 150); do
    port="$(node -e '
      for (const l of require("node:fs").readFileSync(process.argv[1], "utf8").split("\n")) {
        try { const j = JSON.parse(l); if (j.msg === process.argv[2] && j.address) { process.stdout.write(j.address.split(":").pop()); break } } catch {}
      }' "$log" "$ready")"
    [ -n "$port" ] && break
    sleep 0.2
  done
  [ -n "$port" ] || { tail -20 "$log" >&2; fail "$name did not log \"$ready\""; }
  local inner
  inner="$(pgrep -P "$outer" -n || true)"                      # the subshell's unshare...
  [ -n "$inner" ] && inner="$(pgrep -P "$inner" -n || echo "$inner")" # ...and its PID 1 child
  grep -q "^NSpid:.*[[:space:]]1$" "/proc/$inner/status" || fail "$name is not PID 1 of its namespace"
  for _ in $(seq 1 100); do curl -fsS "http://127.0.0.1:$port/readyz" >/dev/null 2>&1 && break; sleep 0.2; done
  curl -fsS "http://127.0.0.1:$port/healthz" >/dev/null || fail "$name /healthz"
  curl -fsS "http://127.0.0.1:$port/readyz" >/dev/null || fail "$name /readyz"
  say "  $name: serving on 127.0.0.1:$port as PID 1 (uid $(stat -c %u "/proc/$inner")), /healthz and /readyz ok"
  kill -TERM "$inner"
  local code=0 t0=$SECONDS
  wait "$outer" || code=$?
  [ "$code" = 0 ] || { tail -20 "$log" >&2; fail "$name exited with $code after SIGTERM"; }
  say "  $name: SIGTERM -> exit 0 in $((SECONDS - t0)) s"
}

run_server controller 'serving metrics and health' controller --kubeconfig "$WORK/kubeconfig" \
  --metrics-bind-address 127.0.0.1:0 --leader-elect --leader-election-namespace default
grep -q '"msg":"caches synced"' "$WORK/controller.log" || fail "controller never synced its caches"
run_server webhooks 'serving webhooks' webhooks --kubeconfig "$WORK/kubeconfig" --bind-address 127.0.0.1:0

written="$(find "$WORK/tmp" -mindepth 1 | head -5)"
[ -z "$written" ] || say "  note: wrote under TMPDIR (the image's emptyDir /tmp): $written"
say "ok: the image's contents install, start read-only as uid $UIDGID, and stop cleanly on SIGTERM"
