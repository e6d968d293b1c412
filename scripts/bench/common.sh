# Shared by the bench scripts: nginx as the reference server, waiting for a server, and
# running wrk into "requests_per_second p50_ms p99_ms". Source it; it uses $WORK and PIDS.

NGINX="${NGINX:-/usr/sbin/nginx}"

# start_nginx PORT: answers GET /health with {"status":"ok"} and any other request (body
# read and discarded) with 200 {"success":true}, from memory: the ceiling for our server.
start_nginx() {
    local port="$1"
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
    client_max_body_size 8m;
    client_body_buffer_size 1m;
    keepalive_requests 1000000;
    server {
        listen 127.0.0.1:$port;
        location = /health { default_type application/json; return 200 '{"status":"ok"}'; }
        location / { default_type application/json; return 200 '{"success":true}'; }
    }
}
CONF
    "$NGINX" -p "$WORK/nginx" -c "$WORK/nginx/nginx.conf" >"$WORK/nginx/stdout.log" 2>&1 &
    PIDS+=($!)
}

# wait_for URL NAME
wait_for() {
    local url="$1" name="$2"
    for _ in $(seq 1 150); do
        if curl -fs -o /dev/null "$url"; then return 0; fi
        sleep 0.1
    done
    echo "bench: $name did not answer $url within 15 s" >&2
    exit 1
}

# measure URL [wrk args...]: prints "rps p50_ms p99_ms non2xx"
measure() {
    local url="$1"; shift
    local output
    output="$(wrk -t1 -c"${CONNECTIONS:-32}" -d"${DURATION:-10}s" --latency "$@" "$url")"
    echo "$output" >>"$WORK/wrk.log"
    awk '
        function ms(value) {
            if (value ~ /us$/) { sub(/us$/, "", value); return value / 1000 }
            if (value ~ /ms$/) { sub(/ms$/, "", value); return value + 0 }
            if (value ~ /s$/) { sub(/s$/, "", value); return value * 1000 }
            return value + 0
        }
        /^Requests\/sec:/ { rps = $2 }
        $1 == "50%" { p50 = ms($2) }
        $1 == "99%" { p99 = ms($2) }
        /Non-2xx or 3xx responses:/ { non2xx = $NF }
        END { printf "%s %.2f %.2f %d\n", rps + 0, p50, p99, non2xx + 0 }' <<<"$output"
}

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "n/a" }'; }

stop_all() {
    for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
    for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
    rm -rf "$WORK"
}
