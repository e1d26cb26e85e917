#!/usr/bin/env bash
# The change feed's cost on the write path, A/B in one run: the same release
# binary on PostgreSQL (database ip_feed_bench), wrk's patch and create
# workloads (bench/lua) with the feed's triggers in place and dropped. One
# unmeasured warm-up of each workload first (the first run on a fresh server
# and table was up to 40 % slower than the next), then ROUNDS rounds whose
# order alternates (with/without, then without/with), so that drift over the
# run falls on both sides alike. Prints req/s, p99 and the machine's CPU per
# request of each run (its whole busy CPU time, service, PostgreSQL and wrk
# alike, over the requests it completed), then per workload the sum of
# "with" over the sum of "without" and the mean CPU per request of each.
# With the triggers dropped the service still sends its after-commit
# notifications (one per burst of writes), so "without" carries that part of
# the feed's cost.
#
#   flock /work/bench.lock bench/feed_ab.sh target/release/integration-points
#
# Env: ROWS (10000), DURATION (10s), CONNECTIONS (32), PORT (18611), ROUNDS (2).
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=$(realpath "${1:?usage: feed_ab.sh PATH/TO/integration-points}")
ROWS=${ROWS:-10000} DURATION=${DURATION:-10s} CONNECTIONS=${CONNECTIONS:-32} PORT=${PORT:-18611}
ROUNDS=${ROUNDS:-2}
PSQL=(env PGOPTIONS="-c client_min_messages=warning" psql -qX -h 127.0.0.1 -U postgres)
"${PSQL[@]}" -d postgres -c "DROP DATABASE IF EXISTS ip_feed_bench WITH (FORCE)" -c "CREATE DATABASE ip_feed_bench" >/dev/null
APP__SERVER__HOST=127.0.0.1 APP__SERVER__PORT=$PORT APP__LOG__LEVEL=warn \
  APP__DATABASE__URL=postgres://postgres@127.0.0.1:5432/ip_feed_bench "$BIN" serve >/tmp/feed_ab.log 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null || true' EXIT
for _ in $(seq 150); do curl -sf -o /dev/null "http://127.0.0.1:$PORT/health/ready" && break; sleep 0.2; done
"${PSQL[@]}" -d ip_feed_bench -v rows="$ROWS" -f bench/sql/load_postgres.sql >/dev/null
"${PSQL[@]}" -d ip_feed_bench -c "VACUUM ANALYZE" >/dev/null
# The machine's busy CPU time so far, in clock ticks (every process: the
# service, PostgreSQL, wrk), to charge each run its CPU per request.
busy() { awk '/^cpu / {print $2 + $3 + $4 + $7 + $8}' /proc/stat; }
TICK_US=$((1000000 / $(getconf CLK_TCK)))
run() { # workload label
  local before after
  before=$(busy)
  BENCH_ROWS=$ROWS wrk -t2 -c"$CONNECTIONS" -d"$DURATION" --latency -s "bench/lua/$1.lua" \
    "http://127.0.0.1:$PORT" >/tmp/feed_ab.wrk 2>&1
  after=$(busy)
  awk -v w="$1" -v l="$2" -v ticks=$((after - before)) -v tick_us="$TICK_US" \
    '/requests in/ {n=$1} /Requests\/sec/ {rps=$2} /^ +99%/ {p99=$2} /Non-2xx/ {bad=$NF}
     END {printf "| %s | %s | %.0f | %s | %s | %.0f |\n", w, l, rps, p99, bad+0, n ? ticks * tick_us / n : 0}' \
    /tmp/feed_ab.wrk
}
# The feed's statement triggers (migration m20261129_000002), one per event.
TRIGGERS=("record_point_creates INSERT NEW create" "record_point_updates UPDATE NEW update"
  "record_point_deletes DELETE OLD delete")
trigger() {
  local spec name event table op
  for spec in "${TRIGGERS[@]}"; do
    read -r name event table op <<<"$spec"
    if [ "$1" = on ]; then
      "${PSQL[@]}" -d ip_feed_bench -c "DROP TRIGGER IF EXISTS $name ON integration_points" \
        -c "CREATE TRIGGER $name AFTER $event ON integration_points REFERENCING $table TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION record_point_changes('$op')" >/dev/null
    else
      "${PSQL[@]}" -d ip_feed_bench -c "DROP TRIGGER IF EXISTS $name ON integration_points" >/dev/null
    fi
  done
}
export LUA_PATH="bench/lua/?.lua;;"
run patch warm-up >/dev/null; run create warm-up >/dev/null
results=$(mktemp)
echo "| workload | feed | req/s | p99 | non-2xx | machine CPU µs/request |"
echo "|---|---|---:|---:|---:|---:|"
for round in $(seq "$ROUNDS"); do
  if [ $((round % 2)) = 1 ]; then sides=(with without); else sides=(without with); fi
  for side in "${sides[@]}"; do
    if [ "$side" = with ]; then trigger on; else trigger off; fi
    run patch "$side"; run create "$side"
  done
done | tee "$results"
trigger on
awk -F' *[|] *' '{sum[$2 " " $3] += $4; cpu[$2 " " $3] += $7; runs[$2 " " $3]++} END {
  for (w in sum) { split(w, k, " "); o = k[1] " without"; if (k[2] == "with")
    printf "%s: with/without %.3f req/s; CPU per request %.0f µs with, %.0f µs without\n",
      k[1], sum[w] / sum[o], cpu[w] / runs[w], cpu[o] / runs[o] } }' "$results"
rm -f "$results"
