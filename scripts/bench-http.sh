#!/usr/bin/env bash
# Benchmarks the HTTP server core against nginx on this machine with wrk.
#
#   scripts/bench-http.sh
#   SERVER_CMD='.build/release/adobe-target-destination serve --port 18080 ...' POST_PATH= scripts/bench-http.sh
#
# Environment:
#   SERVER_CMD    command that starts our server listening on 127.0.0.1:$OUR_PORT
#                 (default: the release build of http-bench-server)
#   OUR_PORT      (18080)   NGINX_PORT (18090)
#   THREADS       event loops for http-bench-server (0 = one per core)
#   DURATION      wrk duration in seconds (10)   CONNECTIONS (32)
#   POST_PATH     (/echo-size; empty: GET only)   POST_BYTES (16384)
#
# Prints requests/s and p99 latency for GET /health and a 16 KB JSON POST against both
# servers, and the ratio ours/nginx. Every process it starts is stopped on exit.
set -euo pipefail
cd "$(dirname "$0")/.."

OUR_PORT="${OUR_PORT:-18080}"
NGINX_PORT="${NGINX_PORT:-18090}"
THREADS="${THREADS:-0}"
export DURATION="${DURATION:-10}" CONNECTIONS="${CONNECTIONS:-32}"
POST_PATH="${POST_PATH-/echo-size}"
POST_BYTES="${POST_BYTES:-16384}"

WORK="$(mktemp -d)"
PIDS=()
source scripts/bench/common.sh
trap stop_all EXIT INT TERM
for tool in wrk curl "$NGINX"; do
    command -v "$tool" >/dev/null || { echo "bench-http: $tool is not installed; install it first" >&2; exit 1; }
done

if [[ -z "${SERVER_CMD:-}" ]]; then
    echo "building http-bench-server (release) ..."
    swift build -c release --product http-bench-server >/dev/null
    SERVER_CMD="$(swift build -c release --show-bin-path)/http-bench-server --port $OUR_PORT --threads $THREADS"
fi

# A JSON body of exactly POST_BYTES bytes.
cat > "$WORK/post.lua" <<LUA
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"data":"' .. string.rep("x", $((POST_BYTES - 12))) .. '"}'
LUA

echo "starting our server: $SERVER_CMD"
bash -c "exec $SERVER_CMD" >"$WORK/server.log" 2>&1 &
PIDS+=($!)
start_nginx "$NGINX_PORT"
wait_for "http://127.0.0.1:$OUR_PORT/health" "our server"
wait_for "http://127.0.0.1:$NGINX_PORT/health" "nginx"

echo "warming up ..."
DURATION=2 measure "http://127.0.0.1:$OUR_PORT/health" >/dev/null
DURATION=2 measure "http://127.0.0.1:$NGINX_PORT/health" >/dev/null

echo "measuring (wrk -t1 -c$CONNECTIONS -d${DURATION}s) ..."
read -r OURS_GET_RPS _ OURS_GET_P99 _ < <(measure "http://127.0.0.1:$OUR_PORT/health")
read -r NGINX_GET_RPS _ NGINX_GET_P99 _ < <(measure "http://127.0.0.1:$NGINX_PORT/health")
if [[ -n "$POST_PATH" ]]; then
    read -r OURS_POST_RPS _ OURS_POST_P99 _ < <(measure "http://127.0.0.1:$OUR_PORT$POST_PATH" -s "$WORK/post.lua")
    read -r NGINX_POST_RPS _ NGINX_POST_P99 _ < <(measure "http://127.0.0.1:$NGINX_PORT$POST_PATH" -s "$WORK/post.lua")
fi

echo
printf "%-26s %12s %9s %12s %9s %8s\n" "scenario" "ours req/s" "p99 ms" "nginx req/s" "p99 ms" "ratio"
printf "%-26s %12.0f %9s %12.0f %9s %8s\n" "GET /health" "$OURS_GET_RPS" "$OURS_GET_P99" \
    "$NGINX_GET_RPS" "$NGINX_GET_P99" "$(ratio "$OURS_GET_RPS" "$NGINX_GET_RPS")"
if [[ -n "$POST_PATH" ]]; then
    printf "%-26s %12.0f %9s %12.0f %9s %8s\n" "POST $POST_PATH (${POST_BYTES} B)" "$OURS_POST_RPS" "$OURS_POST_P99" \
        "$NGINX_POST_RPS" "$NGINX_POST_P99" "$(ratio "$OURS_POST_RPS" "$NGINX_POST_RPS")"
fi
