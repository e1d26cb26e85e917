#!/usr/bin/env bash
# Lists at scale (BENCHMARKS.md, "Lists at scale"): the list workloads at
# 100,000 and 1,000,000 rows on PostgreSQL, with each count mode, and a page
# at depth 900,000 read with `after` and with `offset`, beside get and lookup.
# `list_filter` runs first and again last at each size ("list_filter,again"):
# the same requests, so the two figures' difference is the run's own noise.
#
#   bench/lists.sh PATH/TO/integration-points
#
# Loads bench/sql/load_postgres.sql into database ip_bench_lists (dropped and
# made again for each size), serves it on 127.0.0.1:$BENCH_PORT and drives
# each workload with wrk (2 threads, 32 connections). Env: BENCH_WARMUP (3),
# BENCH_DURATION (10), BENCH_SIZES ("100000 1000000"), BENCH_PORT (18090).
# Needs PostgreSQL at 127.0.0.1:5432 (user postgres, trust auth), psql, wrk, curl.
set -euo pipefail

cd "$(dirname "$0")"
BENCH=$PWD
BIN=$(realpath "${1:?usage: bench/lists.sh PATH/TO/integration-points}")
WARMUP=${BENCH_WARMUP:-3}
DURATION=${BENCH_DURATION:-10}
SIZES=${BENCH_SIZES:-100000 1000000}
PORT=${BENCH_PORT:-18090}
DB=ip_bench_lists
URL=postgres://postgres@127.0.0.1:5432/$DB
BASE=http://127.0.0.1:$PORT
COLLECTION=/rest/v1/service/integration_points
PSQL=(psql -h 127.0.0.1 -U postgres -X -q -v ON_ERROR_STOP=1)
TYPES="public telegram webhook viber whatsapp vk email sms slack messenger"
SERVICE_PID=

stop_service() {
    if [ -n "$SERVICE_PID" ]; then
        kill "$SERVICE_PID" 2>/dev/null || true
        wait "$SERVICE_PID" 2>/dev/null || true
        SERVICE_PID=
    fi
}
trap stop_service EXIT

enc() { python3 -c 'import sys, urllib.parse; print(urllib.parse.quote(sys.argv[1], safe=""))' "$1"; }

# by_type QUERY: the path of list_filter for every type, with QUERY appended.
by_type() {
    local kind paths=
    for kind in $TYPES; do
        paths+="$COLLECTION?filter=$(enc "{\"type\":\"$kind\"}")&order=$(enc '["code"]')&limit=100$1 "
    done
    echo "$paths"
}

# run LABEL WORKLOAD PATHS: one line "LABEL rps p50_ms p99_ms errors".
run() {
    local label=$1 workload=$2
    export BENCH_PATHS=$3
    (cd "$BENCH/lua" && wrk -t2 -c32 -d"${WARMUP}s" -s "$workload.lua" "$BASE" >/dev/null)
    local result
    result=$(cd "$BENCH/lua" && wrk -t2 -c32 -d"${DURATION}s" --latency -s "$workload.lua" "$BASE" | grep '^RESULT')
    awk -v label="$label" '{
        for (i = 2; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
        printf "%s %.0f %.2f %.2f %d\n", label, v["rps"], v["p50_us"] / 1000, v["p99_us"] / 1000,
            v["status_errors"] + v["socket_errors"] }' <<<"$result"
}

# The `Link` target of a page: where the page after it starts.
next_of() {
    curl -fsS -D - -o /dev/null "$BASE$1" | tr -d '\r' | sed -nE 's/^[Ll]ink: <([^>]*)>; rel="next"$/\1/p'
}

for rows in $SIZES; do
    echo "== $rows rows" >&2
    "${PSQL[@]}" -d postgres -c "DROP DATABASE IF EXISTS $DB WITH (FORCE)" -c "CREATE DATABASE $DB"
    APP__DATABASE__URL=$URL APP__LOG__LEVEL=warn "$BIN" migrate up >/dev/null
    "${PSQL[@]}" -d "$DB" -v rows="$rows" -f "$BENCH/sql/load_postgres.sql"
    APP__DATABASE__URL=$URL APP__DATABASE__AUTO_MIGRATE=false APP__SERVER__HOST=127.0.0.1 \
        APP__SERVER__PORT=$PORT APP__LOG__LEVEL=warn "$BIN" serve >/dev/null 2>&1 &
    SERVICE_PID=$!
    for _ in $(seq 100); do curl -fs -o /dev/null "$BASE/health/ready" && break; sleep 0.1; done
    export BENCH_ROWS=$rows
    deep=$((rows * 9 / 10))
    first="$COLLECTION?limit=100&count=none"
    after=$(next_of "$COLLECTION?limit=100&count=none&offset=$((deep - 100))")
    {
        run "list_filter" list_filter "-"
        run "list_filter,count=exact" paths "$(by_type '&count=exact')"
        run "list_filter,count=estimated" paths "$(by_type '&count=estimated')"
        run "list_filter,count=none" paths "$(by_type '&count=none')"
        run "page_1" paths "$first"
        run "page_at_${deep}_after" paths "$after"
        run "page_at_${deep}_offset" paths "$COLLECTION?limit=100&count=none&offset=$deep"
        run "get_by_id" get_by_id "-"
        run "lookup" lookup "-"
        run "list_filter,again" list_filter "-"
    } | sed "s/^/$rows /"
    stop_service
done | awk 'BEGIN { print "| rows | workload | req/s | p50 ms | p99 ms | errors |"; print "|---:|---|---:|---:|---:|---:|" }
    { printf "| %s | %s | %s | %s | %s | %s |\n", $1, $2, $3, $4, $5, $6 }'
"${PSQL[@]}" -d postgres -c "DROP DATABASE IF EXISTS $DB WITH (FORCE)"
