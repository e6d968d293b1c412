#!/usr/bin/env bash
# Durable ingest: wrk posts 20-event identify batches (~16 KB, fresh messageIds) to the real
# `serve` (SQLite store, fsync on) and, in the same run, to nginx discarding them and to a
# Hummingbird 2 server parsing them with JSONSerialization and storing nothing
# (scripts/bench/hummingbird-reference, a package of its own, built here on first use).
# Prints accepted events/s, p50/p99 latency, peak RSS, and the ratios to both references.
#
#   SAMPLES=../shared/samples DURATION=10 CONNECTIONS=32 scripts/bench-ingest.sh
set -euo pipefail
cd "$(dirname "$0")/.."

SAMPLES="${SAMPLES:-../shared/samples}"
OUR_PORT="${OUR_PORT:-18080}"
NGINX_PORT="${NGINX_PORT:-18090}"
HB_PORT="${HB_PORT:-18091}"
EVENTS=20
WORK="$(mktemp -d)"
PIDS=()
source scripts/bench/common.sh
trap stop_all EXIT INT TERM

# BIN: a directory holding another build of the executable, to compare two builds.
BIN="${BIN:-$(swift build -c release --show-bin-path)}"
[[ -x "$BIN/adobe-target-destination" ]] || swift build -c release --product adobe-target-destination >/dev/null

# The Hummingbird reference is optional: without its packages (a machine with no mirror of
# SwiftNIO/Hummingbird) the bench goes on with nginx alone. Built before any server starts so
# the build does not compete with a measurement.
HB_PACKAGE=scripts/bench/hummingbird-reference
HB_BIN=""
if swift build -c release --package-path "$HB_PACKAGE" >"$WORK/hummingbird-build.log" 2>&1; then
    HB_BIN="$(swift build -c release --package-path "$HB_PACKAGE" --show-bin-path)/hummingbird-reference"
else
    HB_ERROR="$(grep -m1 'error:' "$WORK/hummingbird-build.log" || tail -n1 "$WORK/hummingbird-build.log")"
    echo "bench: Hummingbird reference not built, measuring serve and nginx only (swift build -c release --package-path $HB_PACKAGE: ${HB_ERROR:-no output})" >&2
fi

# The event template: compact identify.json with placeholders for messageId and userId.
python3 - "$SAMPLES/identify.json" "$WORK/event-template.json" <<'PY'
import json, sys
event = json.load(open(sys.argv[1]))
event["messageId"] = "__MSGID__"
event["userId"] = "__USERID__"
open(sys.argv[2], "w").write(json.dumps(event, separators=(",", ":")))
PY
BATCH_BYTES=$(( ($(wc -c < "$WORK/event-template.json") + 10) * EVENTS ))

# Delivery held back by a one-call daily quota (it waits, calling nobody), so this measures
# ingest alone; scripts/bench-delivery.sh measures delivery.
cat > "$WORK/config.json" <<JSON
{ "adobeTarget": { "clientCode": "bench", "baseURL": "http://127.0.0.1:9" },
  "delivery": { "rateLimitPerDay": 1 },
  "mappings": [ { "id": "update-profile", "subscription": "type = \"identify\"",
                  "mapping": { "traits": { "@path": "\$.traits" } } } ] }
JSON

"$BIN/adobe-target-destination" serve --config "$WORK/config.json" --host 127.0.0.1 --port "$OUR_PORT" \
    --data-dir "$WORK/data" --log-level error >"$WORK/server.log" 2>&1 &
SERVER_PID=$!
PIDS+=($SERVER_PID)
start_nginx "$NGINX_PORT"
if [[ -n "$HB_BIN" ]]; then
    "$HB_BIN" --port "$HB_PORT" >"$WORK/hummingbird.log" 2>&1 &
    HB_PID=$!
    PIDS+=($HB_PID)
fi
wait_for "http://127.0.0.1:$OUR_PORT/health" "serve"
wait_for "http://127.0.0.1:$NGINX_PORT/health" "nginx"
[[ -z "$HB_BIN" ]] || wait_for "http://127.0.0.1:$HB_PORT/health" "hummingbird-reference"

export BENCH_EVENT_TEMPLATE="$WORK/event-template.json" BENCH_BATCH_EVENTS=$EVENTS
LUA=scripts/bench/ingest-batch.lua
echo "warming up ..."
DURATION=2 measure "http://127.0.0.1:$OUR_PORT/webhook" -s "$LUA" >/dev/null
echo "measuring (wrk -t1 -c${CONNECTIONS:-32} -d${DURATION:-10}s, $EVENTS events ≈ $((BATCH_BYTES / 1024)) KB a batch) ..."
stored_events() {
    curl -fs "http://127.0.0.1:$OUR_PORT/metrics" | awk '/^segment_ingest_events_total\{.*outcome="stored"/ { s += $2 } END { print s + 0 }'
}
# The server's CPU time (user + system, in clock ticks) per stored event over the measurement:
# steadier than events/s on a shared machine, and what a change to the ingest path moves.
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$SERVER_PID/stat"; }
TICKS_BEFORE=$(cpu_ticks); STORED_BEFORE=$(stored_events)
read -r OURS_RPS OURS_P50 OURS_P99 OURS_BAD < <(measure "http://127.0.0.1:$OUR_PORT/webhook" -s "$LUA")
TICKS_AFTER=$(cpu_ticks); STORED_AFTER=$(stored_events)
CPU_US_PER_EVENT=$(awk -v t=$((TICKS_AFTER - TICKS_BEFORE)) -v hz="$(getconf CLK_TCK)" -v n=$((STORED_AFTER - STORED_BEFORE)) \
    'BEGIN { if (n > 0) printf "%.1f", t / hz * 1e6 / n; else print "-" }')
read -r NGINX_RPS NGINX_P50 NGINX_P99 NGINX_BAD < <(measure "http://127.0.0.1:$NGINX_PORT/webhook" -s "$LUA")
if [[ -n "$HB_BIN" ]]; then
    read -r HB_RPS HB_P50 HB_P99 HB_BAD < <(measure "http://127.0.0.1:$HB_PORT/webhook" -s "$LUA")
    HB_RSS_KB=$(awk '/^VmHWM:/ { print $2 }' "/proc/$HB_PID/status")
fi
RSS_KB=$(awk '/^VmHWM:/ { print $2 }' "/proc/$SERVER_PID/status")
STORED=$(stored_events)

echo
printf "%-29s %12s %12s %9s %9s %10s %9s\n" "target" "batches/s" "events/s" "p50 ms" "p99 ms" "non-2xx" "RSS MiB"
printf "%-29s %12.0f %12.0f %9s %9s %10s %9.0f\n" "serve /webhook" "$OURS_RPS" "$(awk -v r="$OURS_RPS" -v e=$EVENTS 'BEGIN{print r*e}')" \
    "$OURS_P50" "$OURS_P99" "$OURS_BAD" "$(awk -v k="$RSS_KB" 'BEGIN{print k/1024}')"
printf "%-29s %12.0f %12.0f %9s %9s %10s %9s\n" "nginx return 200" "$NGINX_RPS" "$(awk -v r="$NGINX_RPS" -v e=$EVENTS 'BEGIN{print r*e}')" \
    "$NGINX_P50" "$NGINX_P99" "$NGINX_BAD" "-"
if [[ -n "$HB_BIN" ]]; then
    printf "%-29s %12.0f %12.0f %9s %9s %10s %9.0f\n" "hummingbird+JSONSerialization" "$HB_RPS" "$(awk -v r="$HB_RPS" -v e=$EVENTS 'BEGIN{print r*e}')" \
        "$HB_P50" "$HB_P99" "$HB_BAD" "$(awk -v k="$HB_RSS_KB" 'BEGIN{print k/1024}')"
fi
echo "ratio serve/nginx: $(ratio "$OURS_RPS" "$NGINX_RPS")   events accepted by the store (metrics): $STORED   server CPU per event: $CPU_US_PER_EVENT µs"
[[ -z "$HB_BIN" ]] || echo "ratio serve/hummingbird: $(ratio "$OURS_RPS" "$HB_RPS")"
