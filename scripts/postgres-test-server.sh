#!/usr/bin/env bash
# Starts or stops a private PostgreSQL 15 for the PostgresEventStore tests.
#
#   scripts/postgres-test-server.sh start   # prints DATABASE_URL=postgres://...
#   scripts/postgres-test-server.sh stop    # stops the server and deletes its data
#
# The server listens on 127.0.0.1 only, on PG_TEST_PORT (default 55432), with its data under
# PG_TEST_DIR (default /tmp/adobe-target-destination-pg-$PG_TEST_PORT). initdb and pg_ctl refuse
# to run as root, so as root they run as the `postgres` system user.
set -euo pipefail

PORT="${PG_TEST_PORT:-55432}"
BASE="${PG_TEST_DIR:-/tmp/adobe-target-destination-pg-$PORT}"
DATA="$BASE/data"
LOG="$BASE/server.log"
BIN="${PG_BIN:-/usr/lib/postgresql/15/bin}"
DB="eventstore_test"
USER_NAME="eventstore"
PASSWORD="eventstore-test"

run() {
    if [ "$(id -u)" = 0 ]; then
        # -s: the postgres user's login shell may be /usr/sbin/nologin.
        su postgres -s /bin/sh -c "$(printf '%q ' "$@")"
    else
        "$@"
    fi
}

url() {
    echo "postgres://$USER_NAME:$PASSWORD@127.0.0.1:$PORT/$DB"
}

start() {
    if [ ! -x "$BIN/initdb" ]; then
        echo "error: $BIN/initdb not found; install postgresql-15 or set PG_BIN to its bin directory" >&2
        exit 1
    fi
    if [ -f "$DATA/postmaster.pid" ] && run "$BIN/pg_ctl" -D "$DATA" status >/dev/null 2>&1; then
        echo "PostgreSQL already running on 127.0.0.1:$PORT (data in $DATA)" >&2
        echo "DATABASE_URL=$(url)"
        return
    fi
    mkdir -p "$BASE"
    [ "$(id -u)" = 0 ] && chown postgres "$BASE"
    if [ ! -f "$DATA/PG_VERSION" ]; then
        local pwfile="$BASE/pwfile"
        echo "$PASSWORD" > "$pwfile"
        [ "$(id -u)" = 0 ] && chown postgres "$pwfile"
        run "$BIN/initdb" -D "$DATA" -U "$USER_NAME" --pwfile="$pwfile" --auth=scram-sha-256 \
            --encoding=UTF8 --locale=C.UTF-8 >"$BASE/initdb.log" 2>&1 \
            || { echo "error: initdb failed, see $BASE/initdb.log" >&2; exit 1; }
        rm -f "$pwfile"
    fi
    # Loopback only; a private socket directory so that no system server is disturbed.
    # Durability as in production (fsync, synchronous_commit and full_page_writes on), tuned
    # as the README's "Deployment shapes" recommends for an append-heavy queue: checkpoints
    # rarer (each is followed by full-page images in the WAL) and those images compressed.
    # PG_TEST_OPTIONS adds or overrides settings (e.g. "-c commit_delay=100").
    local settings="-c listen_addresses=127.0.0.1 -c port=$PORT -c unix_socket_directories=$BASE -c max_connections=200"
    settings+=" -c fsync=on -c synchronous_commit=on -c full_page_writes=on"
    settings+=" -c shared_buffers=256MB -c max_wal_size=4GB -c checkpoint_timeout=15min -c wal_compression=lz4"
    run "$BIN/pg_ctl" -D "$DATA" -l "$LOG" -w -t 30 -o "$settings ${PG_TEST_OPTIONS:-}" start >/dev/null \
        || { echo "error: PostgreSQL did not start, see $LOG" >&2; exit 1; }
    if ! PGPASSWORD="$PASSWORD" "$BIN/psql" -h 127.0.0.1 -p "$PORT" -U "$USER_NAME" -d postgres -tAc \
            "SELECT 1 FROM pg_database WHERE datname = '$DB'" | grep -q 1; then
        PGPASSWORD="$PASSWORD" "$BIN/createdb" -h 127.0.0.1 -p "$PORT" -U "$USER_NAME" "$DB"
    fi
    echo "DATABASE_URL=$(url)"
}

stop() {
    if [ -f "$DATA/postmaster.pid" ]; then
        run "$BIN/pg_ctl" -D "$DATA" -m fast -w stop >/dev/null || true
    fi
    rm -rf "$BASE"
    echo "stopped; removed $BASE" >&2
}

case "${1:-}" in
    start) start ;;
    stop) stop ;;
    *) echo "usage: $0 start|stop" >&2; exit 2 ;;
esac
