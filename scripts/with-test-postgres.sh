#!/usr/bin/env bash
# Runs a command with TEST_DATABASE_URL pointing at a private, throw-away PostgreSQL 15, so the
# PostgreSQL store's tests run wherever PostgreSQL is installed (CI installs it). It is not
# DATABASE_URL on purpose: that would switch every `serve` the end-to-end tests start to the
# shared database.
#
#   scripts/with-test-postgres.sh swift test --skip-build
#
# An existing TEST_DATABASE_URL is used as is. Without one and without PostgreSQL installed,
# the command runs anyway: the PostgreSQL tests then skip with a note (and fail under CI=true).
set -euo pipefail
cd "$(dirname "$0")/.."

if [[ -n "${TEST_DATABASE_URL:-}" || ! -x "${PG_BIN:-/usr/lib/postgresql/15/bin}/initdb" ]]; then
    exec "$@"
fi

export PG_TEST_PORT="${PG_TEST_PORT:-55432}"
trap 'scripts/postgres-test-server.sh stop >/dev/null 2>&1 || true' EXIT INT TERM
line="$(scripts/postgres-test-server.sh start)"
export TEST_DATABASE_URL="${line#DATABASE_URL=}"
"$@"
