#!/usr/bin/env bash
# `make bench`: every benchmark of the project, each beside its reference in the same run.
#
#   scripts/bench.sh            all sections
#   scripts/bench.sh http json  only the named sections: http, app, pure, ingest, delivery, replicas
#
# Machines here are shared and noisy: read the ratios, not the absolute numbers.
set -euo pipefail
cd "$(dirname "$0")/.."

SECTIONS=("$@")
[[ ${#SECTIONS[@]} -eq 0 ]] && SECTIONS=(http app pure ingest delivery replicas)
wants() { local s; for s in "${SECTIONS[@]}"; do [[ "$s" == "$1" ]] && return 0; done; return 1; }

SAMPLES="${SAMPLES:-../shared/samples}"
[[ -d "$SAMPLES" ]] || { echo "bench: sample events not found at $SAMPLES; set SAMPLES=DIR" >&2; exit 1; }

need=()
command -v wrk >/dev/null || need+=(wrk)
[[ -x /usr/sbin/nginx ]] || need+=(nginx-light)
command -v curl >/dev/null || need+=(curl)
if [[ ${#need[@]} -gt 0 ]]; then
    echo "bench: installing ${need[*]} (Debian packages) ..."
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
fi

echo "building release products ..."
swift build -c release --product adobe-target-destination >/dev/null
swift build -c release --product destination-bench >/dev/null
swift build -c release --product http-bench-server >/dev/null
BIN="$(swift build -c release --show-bin-path)"

if wants http; then
    echo; echo "== HTTP server core (http-bench-server) vs nginx =="
    scripts/bench-http.sh
fi

if wants app; then
    echo; echo "== the real 'serve' GET /health vs nginx =="
    APP_DATA="$(mktemp -d)"
    SERVER_CMD="$BIN/adobe-target-destination serve --config Config/destination.json --host 127.0.0.1 --port 18080 --data-dir $APP_DATA --log-level warning" \
        POST_PATH= scripts/bench-http.sh
    rm -rf "$APP_DATA"
fi

if wants pure; then
    echo; echo "== JSON, mapping-kit, FQL (one core, release) =="
    "$BIN/destination-bench" all --samples "$SAMPLES"
fi

if wants ingest; then
    echo; echo "== durable ingest: 20-event identify batches to /webhook vs nginx and Hummingbird =="
    SAMPLES="$SAMPLES" scripts/bench-ingest.sh
fi

if wants delivery && [[ -x scripts/bench-delivery.sh ]]; then
    echo; echo "== delivery: backlog drain and call-saving replay against the simulator =="
    SAMPLES="$SAMPLES" scripts/bench-delivery.sh
fi

if wants replicas; then
    echo; echo "== deployment shapes: SQLite, one and three replicas on PostgreSQL (accept and drain) =="
    SAMPLES="$SAMPLES" BIN="$BIN" scripts/bench-replicas.sh
fi
