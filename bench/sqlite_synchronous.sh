#!/usr/bin/env bash
# Write throughput on a SQLite file with `database.sqlite_synchronous` = full
# and = normal, side by side in one run: `bench/sqlite_synchronous.sh`.
#
# Builds the release binary (or takes BENCH_BIN), loads the data set of
# bench/run.sh into a SQLite file beside the binary (on disk: a file system in
# memory would make syncing free), then for each round and each setting serves
# a fresh copy of it and drives the `create` and `patch` workloads with wrk, as
# bench/run.sh does (32 connections, 2 threads). The settings alternate
# within each round, so that a change in the machine's load shows as
# disagreement between rounds rather than as a difference between settings.
# Prints a Markdown table.
#
# Settings, all optional, from the environment:
#   BENCH_ROWS=100000     rows of the data set
#   BENCH_WARMUP=3        seconds of warm-up before each measurement
#   BENCH_DURATION=10     seconds measured
#   BENCH_ROUNDS=2        rounds of (full, normal)
#   BENCH_BIN=path        measure this binary instead of building one
#   BENCH_PORT=18081      where the service listens (127.0.0.1 only)
#
# Needs: cargo, python3, curl; installs wrk with apt-get when missing. Honours
# CARGO_TARGET_DIR.
set -euo pipefail

cd "$(dirname "$0")/.."
ROOT=$PWD
ROWS=${BENCH_ROWS:-100000}
WARMUP=${BENCH_WARMUP:-3}
DURATION=${BENCH_DURATION:-10}
ROUNDS=${BENCH_ROUNDS:-2}
PORT=${BENCH_PORT:-18081}
TARGET=${CARGO_TARGET_DIR:-$ROOT/target}
STAMP=$(date -u +%Y%m%dT%H%M%SZ)
OUT=$TARGET/bench/sqlite-synchronous-$STAMP
BIN=$OUT/integration-points
BASE_URL="http://127.0.0.1:$PORT"
SERVICE_PID=
export BENCH_ROWS=$ROWS

if ! command -v wrk >/dev/null; then
    apt-get install -y wrk >/dev/null || { apt-get update >/dev/null && apt-get install -y wrk >/dev/null; }
fi
mkdir -p "$OUT"
stop_service() {
    [ -n "$SERVICE_PID" ] || return 0
    kill "$SERVICE_PID" 2>/dev/null || true
    wait "$SERVICE_PID" 2>/dev/null || true
    SERVICE_PID=
}
trap stop_service EXIT

if [ -n "${BENCH_BIN:-}" ]; then
    cp "$BENCH_BIN" "$BIN"
else
    cargo build --release -p integration-points --locked
    cp "$TARGET/release/integration-points" "$BIN"
fi

# The data set once; every measurement starts from a copy of it.
SEED=$OUT/seed.db
APP__DATABASE__URL="sqlite://$SEED?mode=rwc" APP__LOG__LEVEL=warn "$BIN" migrate up >/dev/null
python3 "$ROOT/bench/load_sqlite.py" "$SEED" "$ROWS"

# measure SETTING ROUND WORKLOAD: prints "rps p50_us p99_us errors", errors
# being non-2xx answers and socket errors.
measure() {
    local setting=$1 round=$2 workload=$3 file=$OUT/$1-$2-$3.db
    cp "$SEED" "$file"
    APP__DATABASE__URL="sqlite://$file" APP__DATABASE__AUTO_MIGRATE=false \
        APP__DATABASE__SQLITE_SYNCHRONOUS="$setting" APP__LOG__LEVEL=warn \
        APP__SERVER__HOST=127.0.0.1 APP__SERVER__PORT="$PORT" \
        "$BIN" serve >"$OUT/service-$setting-$round-$workload.log" 2>&1 &
    SERVICE_PID=$!
    local _
    for _ in $(seq 1 100); do
        curl -fs -o /dev/null "$BASE_URL/health/ready" && break
        sleep 0.1
    done
    (
        cd "$ROOT/bench/lua"
        BENCH_RUN_ID="$STAMP-$setting-$round-warmup" wrk -t2 -c32 -d"${WARMUP}s" \
            -s "$workload.lua" "$BASE_URL" >/dev/null
        BENCH_RUN_ID="$STAMP-$setting-$round" wrk -t2 -c32 -d"${DURATION}s" --latency \
            -s "$workload.lua" "$BASE_URL" >"$OUT/wrk-$setting-$round-$workload.txt"
    )
    stop_service
    rm -f "$file" "$file-wal" "$file-shm"
    local result
    result=$(grep '^RESULT' "$OUT/wrk-$setting-$round-$workload.txt")
    local field
    for field in rps p50_us p99_us; do
        printf '%s ' "$(sed -nE "s/.*\\b$field=([0-9.]+).*/\\1/p" <<<"$result")"
    done
    awk '{ for (i = 1; i <= NF; i++) if ($i ~ /^(status|socket)_errors=/) { split($i, kv, "="); n += kv[2] } }
         END { print n + 0 }' <<<"$result"
}

echo "| round | workload | full: req/s | full: p50 / p99 ms | normal: req/s | normal: p50 / p99 ms | normal / full | errors |"
echo "|---|---|---|---|---|---|---|---|"
for round in $(seq 1 "$ROUNDS"); do
    for workload in create patch; do
        read -r full_rps full_p50 full_p99 full_errors <<<"$(measure full "$round" "$workload")"
        read -r normal_rps normal_p50 normal_p99 normal_errors <<<"$(measure normal "$round" "$workload")"
        awk -v r="$round" -v w="$workload" -v fr="$full_rps" -v f5="$full_p50" -v f9="$full_p99" \
            -v nr="$normal_rps" -v n5="$normal_p50" -v n9="$normal_p99" \
            -v e="$((full_errors + normal_errors))" 'BEGIN {
            printf "| %s | %s | %.0f | %.1f / %.1f | %.0f | %.1f / %.1f | %.2f | %d |\n",
                r, w, fr, f5 / 1000, f9 / 1000, nr, n5 / 1000, n9 / 1000, (fr > 0 ? nr / fr : 0), e }'
    done
done
rm -f "$SEED" "$SEED-wal" "$SEED-shm"
