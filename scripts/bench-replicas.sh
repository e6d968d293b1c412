#!/usr/bin/env bash
# Deployment shapes side by side, in one run: one replica on SQLite, one replica on PostgreSQL,
# three replicas on one PostgreSQL. For each:
#
#  a. accepted events/s: wrk posts 20-event identify batches (as scripts/bench-ingest.sh does)
#     to every replica at once, one wrk per port sharing CONNECTIONS; delivery held back.
#  b. delivered updates/s: DRAIN_EVENTS identify events for as many users are queued while the
#     simulator (`simulate-adobe`) answers 503; then the outage ends and the drain is timed
#     until every replica reports nothing pending or in flight.
#
# The PostgreSQL server is private to the run (PG_BENCH_PORT, data under /tmp, removed at exit),
# with fsync and synchronous_commit on: an acknowledged event is on disk in every shape. Its
# other settings are those the README recommends (see scripts/postgres-test-server.sh).
#
#   DURATION=10 CONNECTIONS=32 DRAIN_EVENTS=20000 scripts/bench-replicas.sh
set -euo pipefail
cd "$(dirname "$0")/.."

SAMPLES="${SAMPLES:-../shared/samples}"
BASE_PORT="${BASE_PORT:-18280}"
SIM_PORT="${SIM_PORT:-18290}"
PG_BENCH_PORT="${PG_BENCH_PORT:-55632}"
DRAIN_EVENTS="${DRAIN_EVENTS:-20000}"
DRAIN_CONCURRENCY="${DRAIN_CONCURRENCY:-32}"
DRAIN_TIMEOUT="${DRAIN_TIMEOUT:-300}"
CONNECTIONS="${CONNECTIONS:-32}"
DURATION="${DURATION:-10}"
EVENTS=20
ADMIN_TOKEN="bench-admin-$$"
WORK="$(mktemp -d)"
PIDS=()
source scripts/bench/common.sh
# Not under $WORK: as root the server runs as `postgres`, which cannot enter a mktemp dir.
export PG_TEST_PORT="$PG_BENCH_PORT" PG_TEST_DIR="/tmp/adobe-target-destination-bench-pg-$PG_BENCH_PORT"
cleanup() {
    stop_all
    scripts/postgres-test-server.sh stop >/dev/null 2>&1 || true
}
trap cleanup EXIT INT TERM

PG_BIN="${PG_BIN:-/usr/lib/postgresql/15/bin}"
[[ -x "$PG_BIN/initdb" ]] || { echo "bench: PostgreSQL 15 is not installed ($PG_BIN/initdb); apt-get install postgresql-15 or set PG_BIN" >&2; exit 1; }
BIN="${BIN:-$(swift build -c release --show-bin-path)}"
[[ -x "$BIN/adobe-target-destination" ]] || swift build -c release --product adobe-target-destination >/dev/null
SIM="http://127.0.0.1:$SIM_PORT"

echo "starting a private PostgreSQL 15 on 127.0.0.1:$PG_BENCH_PORT ..."
line="$(scripts/postgres-test-server.sh start)"
PG_URL="${line#DATABASE_URL=}"
PG_SERVER_URL="${PG_URL%/*}"
psql_admin() { PGOPTIONS="-c client_min_messages=warning" "$PG_BIN/psql" -X -q -tA -v ON_ERROR_STOP=1 -d "$PG_URL" -c "$1"; }
# A fresh database per measurement, so no shape starts with another's rows or dead tuples.
fresh_database() {
    psql_admin "DROP DATABASE IF EXISTS $1 WITH (FORCE)" >/dev/null
    psql_admin "CREATE DATABASE $1" >/dev/null
    echo "$PG_SERVER_URL/$1"
}

# The wrk event template, as scripts/bench-ingest.sh writes it.
python3 - "$SAMPLES/identify.json" "$WORK/event-template.json" <<'PY'
import json, sys
event = json.load(open(sys.argv[1]))
event["messageId"] = "__MSGID__"
event["userId"] = "__USERID__"
open(sys.argv[2], "w").write(json.dumps(event, separators=(",", ":")))
PY
export BENCH_EVENT_TEMPLATE="$WORK/event-template.json" BENCH_BATCH_EVENTS=$EVENTS
LUA=scripts/bench/ingest-batch.lua

# Queues events for distinct users across the replicas' ports (every answer must be 200), and
# reads the replicas' queue state.
cat > "$WORK/load.py" <<'PY'
import http.client, json, sys, threading

def post(ports, prefix, users, threads=8):
    batches = [range(start, min(start + 20, users)) for start in range(0, users, 20)]
    failures = []
    def worker(index):
        connection = http.client.HTTPConnection("127.0.0.1", ports[index % len(ports)], timeout=30)
        for batch in batches[index::threads]:
            events = [{"type": "identify", "userId": f"{prefix}-{user}", "messageId": f"{prefix}-{user}",
                       "timestamp": "2026-11-28T10:00:00.000Z", "traits": {"plan": "premium", "n": user}}
                      for user in batch]
            connection.request("POST", "/webhook", json.dumps(events), {"Content-Type": "application/json"})
            answer = connection.getresponse()
            text = answer.read()
            if answer.status != 200:
                failures.append(f"{answer.status} {text[:200]!r}")
                return
    pool = [threading.Thread(target=worker, args=(i,)) for i in range(threads)]
    for thread in pool: thread.start()
    for thread in pool: thread.join()
    if failures:
        sys.exit(f"bench: ingest refused a batch: {failures[0]}")

def busy(ports, token):
    """Jobs pending or in flight, the largest any replica reports (each counts the shared queue)."""
    worst = 0
    for port in ports:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        connection.request("GET", "/admin/stats", headers={"Authorization": f"Bearer {token}"})
        stats = json.loads(connection.getresponse().read())
        worst = max(worst, int(stats["queueDepth"]) + int(stats["inFlight"]))
    return worst

ports = [int(port) for port in sys.argv[2].split(",")]
if sys.argv[1] == "post":
    post(ports, sys.argv[3], int(sys.argv[4]))
elif sys.argv[1] == "busy":
    print(busy(ports, sys.argv[3]))
PY
load() { python3 "$WORK/load.py" "$@"; }
sim_control() { curl -fsS -o /dev/null -X "$1" "$SIM/_sim/$2" ${3:+-H 'Content-Type: application/json' --data "$3"}; }

"$BIN/adobe-target-destination" simulate-adobe --host 127.0.0.1 --port "$SIM_PORT" --create-profiles-after 0 \
    >"$WORK/simulator.log" 2>&1 &
PIDS+=($!)
wait_for "$SIM/_sim/stats" "simulate-adobe"

# Delivery held back by a one-call daily quota (measures ingest alone), or delivering to the
# simulator.
cat > "$WORK/hold.json" <<JSON
{ "adobeTarget": { "clientCode": "bench", "baseURL": "http://127.0.0.1:9" },
  "delivery": { "rateLimitPerDay": 1 },
  "mappings": [ { "id": "update-profile", "subscription": "type = \"identify\"",
                  "mapping": { "traits": { "@path": "\$.traits" } } } ] }
JSON
cat > "$WORK/deliver.json" <<JSON
{ "adobeTarget": { "clientCode": "bench", "baseURL": "$SIM" },
  "delivery": { "concurrency": $DRAIN_CONCURRENCY, "rateLimitPerDay": 100000000, "maxBackoffSeconds": 5 },
  "mappings": [ { "id": "update-profile", "subscription": "type = \"identify\"",
                  "mapping": { "user_id": { "@path": "\$.userId" }, "traits": { "@path": "\$.traits" } } } ] }
JSON

SERVE_PIDS=()
PORTS=()
# start_replicas COUNT CONFIG NAME [DATABASE_URL]: COUNT serves on BASE_PORT, BASE_PORT+1, ...
start_replicas() {
    local count="$1" config="$2" name="$3" url="${4:-}" index port
    SERVE_PIDS=() PORTS=()
    for ((index = 0; index < count; index++)); do
        port=$((BASE_PORT + index))
        env ${url:+DATABASE_URL="$url" REPLICA_ID="bench-$index"} ADMIN_TOKEN="$ADMIN_TOKEN" \
            "$BIN/adobe-target-destination" serve --config "$WORK/$config.json" --host 127.0.0.1 --port "$port" \
            --data-dir "$WORK/data-$name-$index" --log-level error >"$WORK/serve-$name-$index.log" 2>&1 &
        SERVE_PIDS+=($!)
        PIDS+=($!)
        PORTS+=("$port")
    done
    for port in "${PORTS[@]}"; do wait_for "http://127.0.0.1:$port/health" "serve on $port ($name)"; done
}
stop_replicas() {
    local pid
    for pid in "${SERVE_PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
    for pid in "${SERVE_PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
    SERVE_PIDS=()
}
joined_ports() { local IFS=,; echo "${PORTS[*]}"; }

# accept_rate: one wrk per replica at once, CONNECTIONS shared; prints "events/s p99_ms non2xx".
# Runs in a command substitution: the wrk runs are that subshell's only children.
accept_rate() {
    local port share=$(( (CONNECTIONS + ${#PORTS[@]} - 1) / ${#PORTS[@]} )) runs=()
    for port in "${PORTS[@]}"; do
        CONNECTIONS=$share DURATION=2 measure "http://127.0.0.1:$port/webhook" -s "$LUA" >/dev/null &
        runs+=($!)
    done
    wait "${runs[@]}"
    runs=()
    for port in "${PORTS[@]}"; do
        CONNECTIONS=$share measure "http://127.0.0.1:$port/webhook" -s "$LUA" >"$WORK/wrk-$port.out" &
        runs+=($!)
    done
    wait "${runs[@]}"
    for port in "${PORTS[@]}"; do cat "$WORK/wrk-$port.out"; done |
        awk -v e=$EVENTS '{ rps += $1; if ($3 > p99) p99 = $3; bad += $4 } END { printf "%.0f %.1f %d\n", rps * e, p99, bad }'
}

# drain_rate NAME: queues DRAIN_EVENTS events during an Adobe outage, ends it, times the drain;
# prints "updates/s seconds".
drain_rate() {
    local name="$1" start seconds
    sim_control POST reset
    sim_control PUT faults '{"faults":[{"status":503}]}'
    load post "$(joined_ports)" "drain-$name" "$DRAIN_EVENTS"
    sim_control DELETE faults
    start=$(date +%s.%N)
    for port in "${PORTS[@]}"; do
        curl -fsS -o /dev/null -X POST -H "Authorization: Bearer $ADMIN_TOKEN" "http://127.0.0.1:$port/admin/queue/retry-now"
    done
    while (( $(load busy "$(joined_ports)" "$ADMIN_TOKEN") > 0 )); do
        if awk -v s="$start" -v now="$(date +%s.%N)" -v t="$DRAIN_TIMEOUT" 'BEGIN { exit !(now - s > t) }'; then
            echo "bench: $name did not drain within $DRAIN_TIMEOUT s" >&2
            exit 1
        fi
        sleep 0.1
    done
    seconds=$(awk -v s="$start" -v e="$(date +%s.%N)" 'BEGIN { printf "%.2f", e - s }')
    local updates
    updates=$(curl -fsS "$SIM/_sim/stats" | python3 -c 'import json,sys; print(json.load(sys.stdin)["updates"])')
    echo "$(awk -v n="$updates" -v s="$seconds" 'BEGIN { printf "%.0f", n / s }') $seconds $updates"
}

ROWS=()
run_shape() {
    local label="$1" count="$2" store="$3" url="" accept drain
    echo "$label: accepting (wrk -t1 -c$CONNECTIONS over $count port(s), ${DURATION}s) ..."
    [[ "$store" == pg ]] && url="$(fresh_database "bench_accept_$count")"
    start_replicas "$count" hold "accept-$store-$count" "$url"
    accept="$(accept_rate)"
    stop_replicas
    echo "$label: draining $DRAIN_EVENTS queued updates (delivery concurrency $DRAIN_CONCURRENCY per replica) ..."
    [[ "$store" == pg ]] && url="$(fresh_database "bench_drain_$count")"
    start_replicas "$count" deliver "drain-$store-$count" "$url"
    drain="$(drain_rate "$store-$count")"
    stop_replicas
    ROWS+=("$label|$accept|$drain")
}

run_shape "SQLite, 1 replica" 1 sqlite
run_shape "PostgreSQL, 1 replica" 1 pg
run_shape "PostgreSQL, 3 replicas" 3 pg

echo
printf "%-24s %12s %9s %8s %14s %9s %9s\n" "shape" "accepted/s" "p99 ms" "non-2xx" "delivered/s" "drain s" "updates"
SQLITE_ACCEPT=""
for row in "${ROWS[@]}"; do
    IFS='|' read -r label accept drain <<<"$row"
    read -r events p99 bad <<<"$accept"
    read -r delivered seconds updates <<<"$drain"
    [[ -z "$SQLITE_ACCEPT" ]] && SQLITE_ACCEPT=$events
    printf "%-24s %12s %9s %8s %14s %9s %9s   (%s× SQLite)\n" "$label" "$events" "$p99" "$bad" "$delivered" "$seconds" "$updates" \
        "$(ratio "$events" "$SQLITE_ACCEPT")"
done
echo "  (goal: one replica on PostgreSQL accepts ≥ 0.5× SQLite; all replicas share this machine's $(nproc) cores,"
echo "   and PostgreSQL runs on them too, so three replicas cannot show scale here)"
