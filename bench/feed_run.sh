#!/usr/bin/env bash
# The change feed's targets (BENCHMARKS.md, "Change feed"), in one command:
#
#   flock /work/bench.lock bench/feed_run.sh target/release/integration-points
#
# Two replicas of the binary on one PostgreSQL database (ip_feed_lat): the
# delay from a write's acknowledgement on one to its event on the other at
# RATE writes/s (bench/feed.py latency), then WATCHERS event streams on one
# replica (bench/feed.py watchers); then the write path with and without the
# feed's trigger (bench/feed_ab.sh; FEED_AB=0 leaves it out, to measure the
# delivery and the watchers alone).
# Env: RATE (1000), LATENCY_SECONDS (15), WATCHERS (1000), WRITES (300), FEED_AB (1).
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=$(realpath "${1:?usage: feed_run.sh PATH/TO/integration-points}")
# Not SECONDS: bash keeps that one as the seconds since the shell started.
RATE=${RATE:-1000} SECONDS_=${LATENCY_SECONDS:-15} WATCHERS=${WATCHERS:-1000} WRITES=${WRITES:-300}
PSQL=(psql -qX -h 127.0.0.1 -U postgres)
"${PSQL[@]}" -d postgres -c "DROP DATABASE IF EXISTS ip_feed_lat WITH (FORCE)" -c "CREATE DATABASE ip_feed_lat" >/dev/null
pids=()
trap 'kill "${pids[@]}" 2>/dev/null || true' EXIT
for port in 18621 18622; do
  APP__SERVER__HOST=127.0.0.1 APP__SERVER__PORT=$port APP__LOG__LEVEL=warn \
    APP__DATABASE__URL=postgres://postgres@127.0.0.1:5432/ip_feed_lat "$BIN" serve >"/tmp/feed_run_$port.log" 2>&1 &
  pids+=($!)
  for _ in $(seq 150); do curl -sf -o /dev/null "http://127.0.0.1:$port/health/ready" && break; sleep 0.2; done
done
echo "## latency: writes on :18621, watcher on :18622"
python3 bench/feed.py latency http://127.0.0.1:18621 http://127.0.0.1:18622 "$RATE" "$SECONDS_"
echo "## $WATCHERS watchers on :18621"
python3 bench/feed.py watchers http://127.0.0.1:18621 "${pids[0]}" "$WATCHERS" "$WRITES" 100
kill "${pids[@]}"; wait 2>/dev/null || true
[ "${FEED_AB:-1}" = 0 ] && exit 0
echo "## write path with and without the feed"
bench/feed_ab.sh "$BIN"
