#!/usr/bin/env bash
# Runs the PostgreSQL end-to-end tests (tests/api) through PgBouncer in
# transaction pooling mode, the way production PostgreSQL is often reached.
# Debian 12's PgBouncer is 1.18, which keeps no prepared statements and no
# session settings across transactions, so the service runs with
# database.prepared_statements = false (the tests set it from
# TEST_DATABASE_PREPARED_STATEMENTS).
#
#   scripts/pgbouncer.sh                  # every test of tests/api
#   scripts/pgbouncer.sh outage           # a filter, as `cargo test` takes it
#
# It installs pgbouncer with apt-get when missing, runs its own instance on
# 127.0.0.1:$PGBOUNCER_PORT (default 6432) in front of PostgreSQL at
# 127.0.0.1:5432 (trust authentication, any database), recreates the test
# database, and stops PgBouncer when done.
#
# Settings (environment):
#   PGBOUNCER_PORT      the port PgBouncer listens on (default 6432)
#   PGBOUNCER_DATABASE  the test database, dropped and recreated
#                       (default integration_points_pgbouncer)
set -euo pipefail
cd "$(dirname "$0")/.."

port="${PGBOUNCER_PORT:-6432}"
database="${PGBOUNCER_DATABASE:-integration_points_pgbouncer}"

pgbouncer=$(command -v pgbouncer || echo /usr/sbin/pgbouncer)
if [ ! -x "$pgbouncer" ]; then
    echo "installing pgbouncer" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y -q pgbouncer >/dev/null 2>&1 ||
        { apt-get update -q >/dev/null && apt-get install -y -q pgbouncer >/dev/null; }
    pgbouncer=/usr/sbin/pgbouncer
fi

run_dir=$(mktemp -d)
cat >"$run_dir/pgbouncer.ini" <<EOF
[databases]
* = host=127.0.0.1 port=5432

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = $port
unix_socket_dir =
auth_type = trust
auth_file = $run_dir/users.txt
pool_mode = transaction
max_client_conn = 1000
default_pool_size = 20
logfile = $run_dir/pgbouncer.log
pidfile = $run_dir/pgbouncer.pid
EOF
echo '"postgres" ""' >"$run_dir/users.txt"

# PgBouncer refuses to run as root; the postgres account runs it then.
as_user=()
if [ "$(id -u)" -eq 0 ]; then
    chown -R postgres "$run_dir"
    as_user=(-u postgres)
fi
"$pgbouncer" -d "${as_user[@]}" "$run_dir/pgbouncer.ini"
stop() {
    if [ -f "$run_dir/pgbouncer.pid" ]; then
        kill "$(cat "$run_dir/pgbouncer.pid")" 2>/dev/null || true
    fi
    rm -rf "$run_dir"
}
trap stop EXIT
for _ in $(seq 1 50); do
    pg_isready -h 127.0.0.1 -p "$port" -q && break
    sleep 0.1
done
pg_isready -h 127.0.0.1 -p "$port" -q || {
    cat "$run_dir/pgbouncer.log" >&2
    exit 1
}
echo "$("$pgbouncer" --version | head -1) on 127.0.0.1:$port, transaction pooling"

psql -h 127.0.0.1 -U postgres -d postgres -v ON_ERROR_STOP=1 -q \
    -c "DROP DATABASE IF EXISTS $database WITH (FORCE)" \
    -c "CREATE DATABASE $database"

export TEST_DATABASE_URL="postgres://postgres@127.0.0.1:$port/$database"
export TEST_DATABASE_PREPARED_STATEMENTS=false
# LISTEN needs a session, which transaction pooling does not keep: the change
# feed's listener goes to PostgreSQL itself (feed.listen_url), as the README
# tells operators to set it.
export TEST_DATABASE_LISTEN_URL="postgres://postgres@127.0.0.1:5432/$database"
export CI="${CI:-true}"
# --workspace: the features `cargo test --workspace` builds with, so nothing
# is built again after it.
cargo test --locked --workspace --test api -- "$@"
