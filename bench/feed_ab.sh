#!/usr/bin/env bash
# The change feed's cost on the write path, A/B in one run: the same release
# binary on PostgreSQL (database ip_feed_bench), wrk's patch and create
# workloads (bench/lua) with the feed's triggers in place, then dropped, then in
# place again, then dropped again; prints req/s and p99 of each round. With the
# triggers dropped the service still sends its after-commit notifications
# (one per burst of writes), so "without" carries that part of the feed's cost.
#
#   flock /work/bench.lock bench/feed_ab.sh target/release/integration-points
#
# Env: ROWS (10000), DURATION (10s), CONNECTIONS (32), PORT (18611).
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=$(realpath "${1:?usage: feed_ab.sh PATH/TO/integration-points}")
ROWS=${ROWS:-10000} DURATION=${DURATION:-10s} CONNECTIONS=${CONNECTIONS:-32} PORT=${PORT:-18611}
PSQL=(psql -qX -h 127.0.0.1 -U postgres)
"${PSQL[@]}" -d postgres -c "DROP DATABASE IF EXISTS ip_feed_bench WITH (FORCE)" -c "CREATE DATABASE ip_feed_bench" >/dev/null
APP__SERVER__HOST=127.0.0.1 APP__SERVER__PORT=$PORT APP__LOG__LEVEL=warn \
  APP__DATABASE__URL=postgres://postgres@127.0.0.1:5432/ip_feed_bench "$BIN" serve >/tmp/feed_ab.log 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null || true' EXIT
for _ in $(seq 150); do curl -sf -o /dev/null "http://127.0.0.1:$PORT/health/ready" && break; sleep 0.2; done
"${PSQL[@]}" -d ip_feed_bench -v rows="$ROWS" -f bench/sql/load_postgres.sql >/dev/null
"${PSQL[@]}" -d ip_feed_bench -c "VACUUM ANALYZE" >/dev/null
run() { # workload label
  BENCH_ROWS=$ROWS wrk -t2 -c"$CONNECTIONS" -d"$DURATION" --latency -s "bench/lua/$1.lua" \
    "http://127.0.0.1:$PORT" 2>&1 | awk -v w="$1" -v l="$2" \
    '/Requests\/sec/ {rps=$2} /^ +99%/ {p99=$2} /Non-2xx/ {bad=$NF} END {printf "| %s | %s | %.0f | %s | %s |\n", w, l, rps, p99, bad+0}'
}
# The feed's statement triggers (migration m20261129_000002), one per event.
TRIGGERS=("record_point_creates INSERT NEW create" "record_point_updates UPDATE NEW update"
  "record_point_deletes DELETE OLD delete")
trigger() {
  local spec name event table op
  for spec in "${TRIGGERS[@]}"; do
    read -r name event table op <<<"$spec"
    if [ "$1" = on ]; then
      "${PSQL[@]}" -d ip_feed_bench -c "CREATE TRIGGER $name AFTER $event ON integration_points REFERENCING $table TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION record_point_changes('$op')" >/dev/null
    else
      "${PSQL[@]}" -d ip_feed_bench -c "DROP TRIGGER $name ON integration_points" >/dev/null
    fi
  done
}
export LUA_PATH="bench/lua/?.lua;;"
echo "| workload | feed | req/s | p99 | non-2xx |"
echo "|---|---|---:|---:|---:|"
for round in 1 2; do
  run patch with; run create with
  trigger off
  run patch without; run create without
  trigger on
done
