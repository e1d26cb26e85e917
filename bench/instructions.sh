#!/usr/bin/env bash
# Instructions the service executes per request, for each workload of
# bench/run.sh: the service's own CPU work, counted by valgrind's callgrind.
# Unlike req/s on a machine the load generator and the database share, the
# count does not move with whatever else runs, so two binaries compare to
# within 1-2 %.
#
#   bench/instructions.sh                 the release binary, built first
#   bench/instructions.sh OLD NEW         two binaries side by side, and NEW / OLD
#
# Each binary serves the PostgreSQL database ip_bench (created with
# bench/run.sh's data set when missing) under callgrind; after a warm-up
# the counters are zeroed, BENCH_REQUESTS requests are sent over four
# keep-alive connections (bench/requests.py), and the count is read. The
# kernel's work (system calls, TCP) is not counted; `strace -c -f -p <pid>`
# during a run counts the system calls.
#
# Settings, all optional, from the environment:
#   BENCH_REQUESTS=2000   requests measured per workload (list_filter, a hundred
#                         rows each, a tenth of them)
#   BENCH_WORKLOADS="get_by_id lookup list_filter patch create"
#   BENCH_ROWS=100000     rows of the database when it has to be created
#   BENCH_DB=ip_bench     the PostgreSQL database served
#   BENCH_WARMUP=400      requests sent before counting. The same seeds draw
#                         the warm-up's and the measured requests, so with
#                         BENCH_WARMUP=BENCH_REQUESTS every measured GET and
#                         LOOKUP finds its answer cached (the cache's hit path
#                         alone); at 400 most of them miss.
#   BENCH_PORT=18080
#   Any APP__… variable reaches the service (e.g. APP__LOG__LEVEL=warn).
#
# Needs: valgrind (Debian package valgrind), python3, curl, psql, and
# PostgreSQL at 127.0.0.1:5432 (user postgres, trust auth).
set -euo pipefail

cd "$(dirname "$0")/.."
ROOT=$PWD
REQUESTS=${BENCH_REQUESTS:-2000}
WORKLOADS=${BENCH_WORKLOADS:-get_by_id lookup list_filter patch create}
ROWS=${BENCH_ROWS:-100000}
export BENCH_PORT=${BENCH_PORT:-18080}
DB=${BENCH_DB:-ip_bench}
WARMUP=${BENCH_WARMUP:-400}
URL="postgres://postgres@127.0.0.1:5432/$DB?sslmode=disable"
PSQL=(psql -h 127.0.0.1 -U postgres -X -q -v ON_ERROR_STOP=1)
OUT=$(mktemp -d)
SERVICE_PID=
trap '[ -z "$SERVICE_PID" ] || kill "$SERVICE_PID" 2>/dev/null; rm -rf "$OUT"' EXIT

command -v valgrind >/dev/null || { echo "instructions: valgrind is required (apt-get install valgrind)" >&2; exit 1; }

if [ $# -eq 0 ]; then
    cargo build --release -p integration-points --locked >&2
    set -- "${CARGO_TARGET_DIR:-$ROOT/target}/release/integration-points"
fi

if ! "${PSQL[@]}" -d "$DB" -c "SELECT 1 FROM integration_points LIMIT 1" >/dev/null 2>&1; then
    echo "instructions: loading $ROWS rows into PostgreSQL database $DB" >&2
    "${PSQL[@]}" -d postgres -c "DROP DATABASE IF EXISTS $DB WITH (FORCE)" -c "CREATE DATABASE $DB"
    APP__DATABASE__URL="$URL" APP__LOG__LEVEL=warn "$1" migrate up >/dev/null
    "${PSQL[@]}" -d "$DB" -v rows="$ROWS" -f bench/sql/load_postgres.sql
fi
# The loaded rows, not those the create workload added (UUIDv7 ids sort after them).
ROWS=$("${PSQL[@]}" -d "$DB" -At -c "SELECT count(*) FROM integration_points WHERE id <= '00000000-0000-0000-0000-ffffffffffff'")

# count BINARY WORKLOAD: instructions per request.
count() {
    local binary=$1 workload=$2 dump=$OUT/callgrind.out
    local requests=$REQUESTS warmup=$WARMUP
    if [ "$workload" = list_filter ]; then
        requests=$((REQUESTS / 10)) warmup=$((WARMUP / 10))
    fi
    rm -f "$dump"*
    APP__DATABASE__URL="$URL" APP__DATABASE__AUTO_MIGRATE=false \
        APP__SERVER__HOST=127.0.0.1 APP__SERVER__PORT="$BENCH_PORT" \
        valgrind --tool=callgrind --callgrind-out-file="$dump" "$binary" serve \
        >"$OUT/service.log" 2>&1 &
    SERVICE_PID=$!
    local _
    for _ in $(seq 1 300); do
        curl -fs -o /dev/null "http://127.0.0.1:$BENCH_PORT/health/live" && break
        sleep 0.2
    done
    python3 bench/requests.py "$workload" "$warmup" "$ROWS"
    callgrind_control -z "$SERVICE_PID" >/dev/null 2>&1
    python3 bench/requests.py "$workload" "$requests" "$ROWS"
    callgrind_control -d "$SERVICE_PID" >/dev/null 2>&1
    kill "$SERVICE_PID"
    wait "$SERVICE_PID" 2>/dev/null || true
    SERVICE_PID=
    # The dump made on request holds the counts since they were zeroed.
    local total
    total=$(grep -h '^summary:' "$dump".* | head -1 | awk '{print $2}')
    echo $((total / requests))
}

header="| workload |"
rule="|---|"
for binary in "$@"; do
    header="$header $(basename "$binary") |"
    rule="$rule---:|"
done
[ $# -eq 2 ] && { header="$header second / first |"; rule="$rule---:|"; }
echo "Instructions per request ($REQUESTS requests per workload after $WARMUP, $(nproc) cores; binaries: $*):"
echo
echo "$header"
echo "$rule"
for workload in $WORKLOADS; do
    line="| $workload |"
    counts=()
    for binary in "$@"; do
        counts+=("$(count "$binary" "$workload")")
        line="$line ${counts[-1]} |"
    done
    if [ $# -eq 2 ]; then
        line="$line $(python3 -c "print(f'{${counts[1]} / ${counts[0]}:.3f}')") |"
    fi
    echo "$line"
done
