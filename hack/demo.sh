#!/usr/bin/env bash
# `make demo`: Switchboard on an embedded default, no cluster and no provider accounts.
# Starts a local kube-apiserver + etcd, the provider sandbox, installs the CRDs, applies
# examples/, runs the controller, and shows the resources turning Ready. Ctrl-C stops it all.
#
#   hack/demo.sh            run until Ctrl-C
#   hack/demo.sh --check    exit 0 once every example is Ready (used by the tests)
set -euo pipefail
cd "$(dirname "$0")/.."

CHECK=false
[ "${1:-}" = "--check" ] && CHECK=true
SANDBOX_PORT="${SANDBOX_PORT:-18600}"
PG_PORT="${PG_PORT:-18632}"
PG_PASSWORD=switchboard-demo # the examples' Secret holds it; a throwaway server on loopback
METRICS_PORT="${METRICS_PORT:-18080}"
WEBHOOKS_PORT="${WEBHOOKS_PORT:-18443}"
PUBLIC_URL="http://127.0.0.1:$WEBHOOKS_PORT"
WORK="$(mktemp -d "${TMPDIR:-/tmp}/switchboard-demo.XXXXXX")"
PIDS=()

cleanup() {
  trap - EXIT INT TERM
  echo
  echo "demo: stopping"
  for ((i=${#PIDS[@]}-1; i>=0; i--)); do kill -TERM "${PIDS[$i]}" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

wait_for_line() { # file pattern timeout-seconds what
  local deadline=$((SECONDS + $3))
  until grep -q "$2" "$1" 2>/dev/null; do
    if [ $SECONDS -ge $deadline ]; then echo "demo: $4 did not start; its output:" >&2; tail -20 "$1" >&2; exit 1; fi
    sleep 0.2
  done
}

echo "demo: starting the local control plane (kube-apiserver + etcd)"
node test/controlplane/cli.ts --kubeconfig "$WORK/kubeconfig" >"$WORK/controlplane.log" 2>&1 &
PIDS+=($!)
wait_for_line "$WORK/controlplane.log" '^KUBECONFIG=' 120 "the control plane"
export KUBECONFIG="$WORK/kubeconfig"

echo "demo: starting the provider sandbox on 127.0.0.1:$SANDBOX_PORT"
node test/sandbox/cli.ts --port "$SANDBOX_PORT" --config hack/demo-sandbox.json >"$WORK/sandbox.log" 2>&1 &
PIDS+=($!)
wait_for_line "$WORK/sandbox.log" '^SANDBOX_URL=' 30 "the sandbox"

echo "demo: starting PostgreSQL on 127.0.0.1:$PG_PORT (the casino-db Destination's tables)"
node test/postgres/cli.ts --port "$PG_PORT" --password "$PG_PASSWORD" >"$WORK/postgres.log" 2>&1 &
PIDS+=($!)
wait_for_line "$WORK/postgres.log" '^PG_URL=' 60 "PostgreSQL"

echo "demo: installing the CRDs"
node crds/install.ts >/dev/null

echo "demo: applying examples/"
# The examples point at the sandbox's and PostgreSQL's default addresses; follow SANDBOX_PORT
# and PG_PORT if they were moved.
for f in examples/*.yaml; do
  sed -e "s/127.0.0.1:18600/127.0.0.1:$SANDBOX_PORT/g" -e "s/127.0.0.1:18632/127.0.0.1:$PG_PORT/g" "$f"
  echo "---"
done | kubectl apply -f - >/dev/null

echo "demo: starting the controller (metrics on http://127.0.0.1:$METRICS_PORT/metrics)"
node bin/switchboard.ts controller --metrics-bind-address "127.0.0.1:$METRICS_PORT" --public-url "$PUBLIC_URL" \
  --allow-loopback-endpoints \
  >"$WORK/controller.log" 2>&1 &
PIDS+=($!)

echo "demo: starting the webhook server on $PUBLIC_URL"
node bin/switchboard.ts webhooks --bind-address "127.0.0.1:$WEBHOOKS_PORT" --public-url "$PUBLIC_URL" \
  >"$WORK/webhooks.log" 2>&1 &
PIDS+=($!)

kubectl wait --for=condition=Ready --timeout=120s -n switchboard-demo destinations,casinointegrations,calendarsyncs,messagecampaigns,twitchintegrations,patreonintegrations --all >/dev/null
# A partner channel goes live in the sandbox; EventSub tells the TwitchIntegration within seconds.
kubectl wait --for=condition=EventSubReady --timeout=60s -n switchboard-demo twitchintegration/partners >/dev/null
node -e 'fetch(process.argv[1], { method: "POST", headers: { "content-type": "application/json" }, body: process.argv[2] })
  .then((r) => { if (!r.ok) process.exit(1) })' "http://127.0.0.1:$SANDBOX_PORT/_sandbox/twitch/live" \
  '{"login":"partner_one","title":"Drops enabled: watch to earn"}'
kubectl wait --for=jsonpath='{.status.live}'=1 --timeout=30s -n switchboard-demo twitchintegration/partners >/dev/null
echo "demo: partner_one went live; the TwitchIntegration shows it:"
kubectl get twitchintegration partners -n switchboard-demo \
  -o jsonpath='{range .status.channels[*]}{.login}{" live="}{.live}{" "}{.title}{"\n"}{end}'
echo
kubectl get switchboard -n switchboard-demo
echo
PSQL=(env PGPASSWORD="$PG_PASSWORD" psql -h 127.0.0.1 -p "$PG_PORT" -U switchboard -d postgres -X -q)
echo "demo: the casino tables in PostgreSQL (rows per casino, and the latest transactions)"
"${PSQL[@]}" -c "SELECT casino, (SELECT count(*) FROM casino.players p WHERE p.casino = c.casino) AS players,
  (SELECT count(*) FROM casino.transactions t WHERE t.casino = c.casino) AS transactions,
  (SELECT count(*) FROM casino.game_sessions g WHERE g.casino = c.casino) AS game_sessions
  FROM (SELECT casino FROM casino.players UNION SELECT casino FROM casino.transactions
        UNION SELECT casino FROM casino.game_sessions) c ORDER BY casino"
"${PSQL[@]}" -c "SELECT casino, id, player_id, type, status, amount_minor, currency, updated_at FROM casino.transactions ORDER BY updated_at DESC, id LIMIT 5"
echo
FEED="$PUBLIC_URL/feeds/switchboard-demo/programme/events.json"
if $CHECK; then
  events=$(node -e 'fetch(process.argv[1]).then(r => r.json()).then(d => console.log((d.events ?? []).length))' "$FEED")
  echo "demo: the public feed lists $events events"
  echo "demo: every example is Ready"
  exit 0
fi
cat <<MSG
Switchboard is running.
  kubectl:   export KUBECONFIG=$KUBECONFIG
             kubectl get switchboard -A ; kubectl describe destination cdp -n switchboard-demo
  metrics:   http://127.0.0.1:$METRICS_PORT/metrics  (health: /healthz, /readyz)
  twitch:    curl -X POST http://127.0.0.1:$SANDBOX_PORT/_sandbox/twitch/live -H 'content-type: application/json' -d '{"login":"partner_two"}'
             kubectl get twitchintegration partners -n switchboard-demo -o yaml
  webhooks:  $PUBLIC_URL  (each resource's URL: kubectl get casinointegration royal -n switchboard-demo -o jsonpath='{.status.webhook.url}')
  feeds:     $FEED  (and next.json, today.json)
  free/busy: $PUBLIC_URL/freebusy/switchboard-demo/venue.json
  sandbox:   http://127.0.0.1:$SANDBOX_PORT/_sandbox/segment/events?writeKey=demo-write-key
  postgres:  PGPASSWORD=$PG_PASSWORD psql -h 127.0.0.1 -p $PG_PORT -U switchboard -d postgres  (schema casino)
  logs:      $WORK/controller.log
Press Ctrl-C to stop.
MSG
while sleep 5; do
  for pid in "${PIDS[@]}"; do
    kill -0 "$pid" 2>/dev/null || { echo "demo: a component exited; see $WORK" >&2; exit 1; }
  done
done
