#!/usr/bin/env bash
# Benchmarks the HTTP server core against nginx on this machine with wrk.
#
#   scripts/bench-http.sh
#   SERVER_CMD='.build/release/adobe-target-destination serve --port 18080 ...' POST_PATH=/v1/track scripts/bench-http.sh
#
# Environment:
#   SERVER_CMD    command that starts our server listening on 127.0.0.1:$OUR_PORT
#                 (default: the release build of http-bench-server)
#   OUR_PORT      (18080)   NGINX_PORT (18090)
#   THREADS       event loops for http-bench-server (0 = one per core)
#   DURATION      wrk duration in seconds (10)   CONNECTIONS (32)
#   HEALTH_PATH   (/health)   POST_PATH (/echo-size)   POST_BYTES (16384)
#
# Prints requests/s and p99 latency for GET /health and a 16 KB JSON POST against both
# servers, and the ratio ours/nginx. Every process it starts is stopped on exit.
set -euo pipefail
cd "$(dirname "$0")/.."

OUR_PORT="${OUR_PORT:-18080}"
NGINX_PORT="${NGINX_PORT:-18090}"
THREADS="${THREADS:-0}"
DURATION="${DURATION:-10}"
CONNECTIONS="${CONNECTIONS:-32}"
HEALTH_PATH="${HEALTH_PATH:-/health}"
POST_PATH="${POST_PATH-/echo-size}"   # empty: GET only
POST_BYTES="${POST_BYTES:-16384}"
NGINX="${NGINX:-/usr/sbin/nginx}"

for tool in wrk curl "$NGINX"; do
    command -v "$tool" >/dev/null || { echo "bench-http: $tool is not installed; install it first" >&2; exit 1; }
done

WORK="$(mktemp -d)"
PIDS=()
cleanup() {
    for pid in "${PIDS[@]}"; do
        kill "$pid" 2>/dev/null || true
    done
    for pid in "${PIDS[@]}"; do
        wait "$pid" 2>/dev/null || true
    done
    rm -rf "$WORK"
}
trap cleanup EXIT INT TERM

if [[ -z "${SERVER_CMD:-}" ]]; then
    echo "building http-bench-server (release) ..."
    swift build -c release --product http-bench-server >/dev/null
    BIN="$(swift build -c release --show-bin-path)"
    SERVER_CMD="$BIN/http-bench-server --port $OUR_PORT --threads $THREADS"
fi

# nginx: a fixed answer from memory, like our /health handler.
mkdir -p "$WORK/nginx"
cat > "$WORK/nginx/nginx.conf" <<CONF
worker_processes auto;
daemon off;
pid $WORK/nginx/nginx.pid;
error_log $WORK/nginx/error.log warn;
events { worker_connections 4096; }
http {
    access_log off;
    client_body_temp_path $WORK/nginx/body;
    proxy_temp_path $WORK/nginx/proxy;
    fastcgi_temp_path $WORK/nginx/fastcgi;
    uwsgi_temp_path $WORK/nginx/uwsgi;
    scgi_temp_path $WORK/nginx/scgi;
    client_max_body_size 1m;
    keepalive_requests 1000000;
    server {
        listen 127.0.0.1:$NGINX_PORT;
        location = $HEALTH_PATH { default_type application/json; return 200 '{"status":"ok"}'; }
        location = ${POST_PATH:-/unused-post} { default_type application/json; return 200 '{"receivedBytes":$POST_BYTES}'; }
    }
}
CONF

# A JSON body of exactly POST_BYTES bytes.
PADDING=$((POST_BYTES - 12))
cat > "$WORK/post.lua" <<LUA
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"data":"' .. string.rep("x", $PADDING) .. '"}'
LUA

wait_for() {
    local url="$1" name="$2"
    for _ in $(seq 1 100); do
        if curl -fs -o /dev/null "$url"; then return 0; fi
        sleep 0.1
    done
    echo "bench-http: $name did not answer $url within 10 s" >&2
    exit 1
}

echo "starting our server: $SERVER_CMD"
bash -c "exec $SERVER_CMD" >"$WORK/server.log" 2>&1 &
PIDS+=($!)
"$NGINX" -p "$WORK/nginx" -c "$WORK/nginx/nginx.conf" >"$WORK/nginx/stdout.log" 2>&1 &
PIDS+=($!)
wait_for "http://127.0.0.1:$OUR_PORT$HEALTH_PATH" "our server"
wait_for "http://127.0.0.1:$NGINX_PORT$HEALTH_PATH" "nginx"

# Runs wrk; prints "requests_per_second p99_milliseconds".
measure() {
    local url="$1"; shift
    local output
    output="$(wrk -t1 -c"$CONNECTIONS" -d"${DURATION}s" --latency "$@" "$url")"
    echo "$output" >>"$WORK/wrk.log"
    local rps p99
    rps="$(awk '/^Requests\/sec:/ { print $2 }' <<<"$output")"
    p99="$(awk '$1 == "99%" {
        value = $2
        if (value ~ /us$/) { sub(/us$/, "", value); value = value / 1000 }
        else if (value ~ /ms$/) { sub(/ms$/, "", value) }
        else if (value ~ /s$/) { sub(/s$/, "", value); value = value * 1000 }
        printf "%.2f", value }' <<<"$output")"
    local errors
    errors="$(grep -E 'Non-2xx|Socket errors' <<<"$output" || true)"
    [[ -n "$errors" ]] && echo "  note ($url): $errors" >&2
    echo "${rps:-0} ${p99:-0}"
}

echo "warming up ..."
wrk -t1 -c"$CONNECTIONS" -d2s "http://127.0.0.1:$OUR_PORT$HEALTH_PATH" >/dev/null
wrk -t1 -c"$CONNECTIONS" -d2s "http://127.0.0.1:$NGINX_PORT$HEALTH_PATH" >/dev/null

echo "measuring (wrk -t1 -c$CONNECTIONS -d${DURATION}s) ..."
read -r OURS_GET_RPS OURS_GET_P99 < <(measure "http://127.0.0.1:$OUR_PORT$HEALTH_PATH")
read -r NGINX_GET_RPS NGINX_GET_P99 < <(measure "http://127.0.0.1:$NGINX_PORT$HEALTH_PATH")
if [[ -n "$POST_PATH" ]]; then
    read -r OURS_POST_RPS OURS_POST_P99 < <(measure "http://127.0.0.1:$OUR_PORT$POST_PATH" -s "$WORK/post.lua")
    read -r NGINX_POST_RPS NGINX_POST_P99 < <(measure "http://127.0.0.1:$NGINX_PORT$POST_PATH" -s "$WORK/post.lua")
fi

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "n/a" }'; }

echo
printf "%-26s %12s %9s %12s %9s %8s\n" "scenario" "ours req/s" "p99 ms" "nginx req/s" "p99 ms" "ratio"
printf "%-26s %12.0f %9s %12.0f %9s %8s\n" "GET $HEALTH_PATH" "$OURS_GET_RPS" "$OURS_GET_P99" \
    "$NGINX_GET_RPS" "$NGINX_GET_P99" "$(ratio "$OURS_GET_RPS" "$NGINX_GET_RPS")"
if [[ -n "$POST_PATH" ]]; then
    printf "%-26s %12.0f %9s %12.0f %9s %8s\n" "POST $POST_PATH (${POST_BYTES} B)" "$OURS_POST_RPS" "$OURS_POST_P99" \
    "$NGINX_POST_RPS" "$NGINX_POST_P99" "$(ratio "$OURS_POST_RPS" "$NGINX_POST_RPS")"
fi
