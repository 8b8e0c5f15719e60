#!/usr/bin/env bash
# make demo: run the embedded pipeline (kfake, a local ClickHouse, the
# monitor worker and, when installed, a local Alertmanager), drive simulated
# chain traffic through it with a shift halfway, and show the shift being
# detected: the alert in Alertmanager and the time from shift to alert.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=bin/chainwatch
DATA=.chainwatch/demo
DURATION=${DEMO_DURATION:-150}   # seconds of traffic
SHIFT_AT=${DEMO_SHIFT_AT:-90}    # seconds into the traffic
SHIFT=${DEMO_SHIFT:-language}    # topic, length, language or error_rate
RATE=${DEMO_RATE:-40}
AM=http://127.0.0.1:19093
rm -rf "$DATA"
mkdir -p "$DATA"
"$BIN" up -data-dir "$DATA" >"$DATA/up.log" 2>&1 &
up=$!
stop() { kill -INT "$up" 2>/dev/null || true; wait "$up" 2>/dev/null || true; }
trap stop EXIT
printf 'starting chainwatch up (log: %s) ' "$DATA/up.log"
for _ in $(seq 1 300); do
  if curl -fsS http://127.0.0.1:4318/healthz >/dev/null 2>&1; then break; fi
  if ! kill -0 "$up" 2>/dev/null; then echo; echo "chainwatch up failed:"; cat "$DATA/up.log"; exit 1; fi
  printf '.'; sleep 0.2
done
sleep 1
echo
grep -v '^time=' "$DATA/up.log" | sed -n '1,30p' || true
echo
echo "simulating ${DURATION}s of chain traffic at $RATE traces/s, a $SHIFT shift from ${SHIFT_AT}s …"
start=$(date +%s)
"$BIN" simulate -target http://127.0.0.1:4318 -duration "${DURATION}s" -rate "$RATE" \
  -shift "$SHIFT" -shift-at "${SHIFT_AT}s" >"$DATA/simulate.log" 2>&1 &
sim=$!
shift_time=$((start + SHIFT_AT))
case "$SHIFT" in
  language) want=input-vocabulary ;; topic) want=output-embedding ;;
  length) want=output-tokens ;; error_rate) want=error-rate ;; *) want=any ;;
esac
have_am=0
curl -fsS "$AM/-/ready" >/dev/null 2>&1 && have_am=1
firing() { # monitors with a firing drift alert, one per line
  if [ "$have_am" = 1 ]; then curl -fsS "$AM/api/v2/alerts" 2>/dev/null || echo '[]'
  else "$BIN" report -alerts-json 2>/dev/null || echo '[]'; fi |
  python3 -c 'import json,sys
for x in json.load(sys.stdin):
    l=x.get("labels",{})
    if l.get("alertname")=="ChainwatchDrift": print(l["monitor"], "|", x["annotations"]["summary"])'
}
alerted=0
while kill -0 "$sim" 2>/dev/null; do
  now=$(date +%s)
  if [ "$alerted" = 0 ]; then
    f=$(firing)
    if [ "$now" -lt "$shift_time" ]; then
      before=$(cut -d' ' -f1 <<<"$f" | sort -u)
    elif grep -q "^$want " <<<"$f" || { [ "$want" = any ] && [ -n "$f" ]; }; then
      alerted=1
      echo
      echo "ALERT $((now - shift_time)) s after the $SHIFT shift (monitors run every 30 s over 1-minute windows):"
      sed 's/^/  /' <<<"$f"
      [ -n "${before:-}" ] && echo "  (firing before the shift, i.e. false alarms at p_val 0.01: $(tr '\n' ' ' <<<"$before"))"
    fi
  fi
  if [ $(( (now - start) % 15 )) = 0 ]; then printf '  t=%3ds%s\n' $((now - start)) "$([ "$now" -ge "$shift_time" ] && echo " (shifted)")"; fi
  sleep 1
done
wait "$sim" || { echo "simulate failed:"; cat "$DATA/simulate.log"; exit 1; }
tail -n 2 "$DATA/simulate.log"
[ "$alerted" = 1 ] || echo "no $want alert seen before the traffic ended (see $DATA/up.log)"
echo
echo "report (from ClickHouse, deduplicated with FINAL):"
"$BIN" report
echo
echo "monitor results: SELECT monitor, tick, statistic, p_value, drift FROM detector_results FINAL ORDER BY tick"
[ "$have_am" = 1 ] && echo "alerts: $AM/#/alerts"
curl -fsS http://127.0.0.1:4318/metrics | grep -E '^chainwatch_monitor_drift' || true
echo
echo "dashboards (grafana/provisioning/dashboards: Overview, Drift and skew, Quality, Pipeline health, Trace explorer):"
echo "  build the plugin once:  (cd grafana && npm ci && npm run build)"
echo "  then run Grafana with the plugin and the provisioning (chainwatch up's ClickHouse is 127.0.0.1:19000):"
echo "    docker run --rm --network host \\"
echo "      -e GF_PLUGINS_ALLOW_LOADING_UNSIGNED_PLUGINS=chainwatch-chainwatch-datasource \\"
echo "      -e CHAINWATCH_CLICKHOUSE_ADDR=127.0.0.1:19000 -e CHAINWATCH_CLICKHOUSE_DATABASE=chainwatch -e CHAINWATCH_CLICKHOUSE_USER=default \\"
echo "      -e CHAINWATCH_CLICKHOUSE_PASSWORD= -e CHAINWATCH_PROMETHEUS_URL=http://127.0.0.1:9090 \\"
echo "      -v $PWD/grafana/dist:/var/lib/grafana/plugins/chainwatch-chainwatch-datasource \\"
echo "      -v $PWD/grafana/provisioning:/etc/grafana/provisioning grafana/grafana:12.0.2"
echo "  (or the whole deployment with Grafana provisioned: docker compose up, README \"Deploying\")"
echo "  and open http://127.0.0.1:3000/d/chainwatch-overview (admin/admin); the others: /d/chainwatch-drift,"
echo "  /d/chainwatch-quality, /d/chainwatch-pipeline (needs a Prometheus scraping http://127.0.0.1:4318/metrics), /d/chainwatch-traces"
