#!/usr/bin/env bash
# make demo: run the embedded pipeline, drive simulated chain traffic through
# it for about 30 seconds, and print a report queried from ClickHouse.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=bin/chainwatch
DATA=.chainwatch/demo
DURATION=${DEMO_DURATION:-30s}
RATE=${DEMO_RATE:-40}
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
echo
sed -n '1,20p' "$DATA/up.log" | grep -v '^time=' || true
echo
echo "simulating $DURATION of chain traffic at $RATE traces/s …"
"$BIN" simulate -target http://127.0.0.1:4318 -duration "$DURATION" -rate "$RATE"
sleep 2 # the writer flushes every second
echo
echo "report (from ClickHouse, deduplicated with FINAL):"
"$BIN" report
echo
echo "metrics: curl -s http://127.0.0.1:4318/metrics | grep chainwatch_"
curl -fsS http://127.0.0.1:4318/metrics | grep -E '^chainwatch_(collector_received_total|writer_rows_written_total|writer_dead_letters_total)' || true
