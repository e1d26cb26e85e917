#!/usr/bin/env bash
# The benchmark of BENCHMARKS.md, in one command: `bench/run.sh`.
#
# Builds the release binary; loads the data set into PostgreSQL (database
# ip_bench) and SQLite with SQL, not HTTP; records the SQL each request kind
# issues; serves the data and drives five workloads with wrk; runs the same SQL
# through pgbench for the database's own ceiling; repeats the reads on SQLite
# and at 10,000 and 1,000,000 rows; prints a Markdown report, also written to
# target/bench/<time>/report.md.
#
# Settings, all optional, from the environment:
#   BENCH_ROWS=100000            rows of the main data set
#   BENCH_WARMUP=5               seconds of warm-up before each measurement
#   BENCH_DURATION=15            seconds measured
#   BENCH_WORKLOADS="get_by_id lookup list_filter patch create"
#   BENCH_SQLITE=1               0 skips the SQLite run
#   BENCH_SCALE=1                0 skips the 10k / 1M rows check
#   BENCH_BIN=path               measure this binary instead of building one (A/B comparisons)
#   BENCH_PORT=18080             where the service listens (127.0.0.1 only)
#   BENCH_PG_SSLMODE=disable     sslmode of both the service and pgbench (TCP to 127.0.0.1 either way)
#   BENCH_API_KEY                sent as `Authorization: Bearer …` when the service needs a key
#   Any APP__… variable reaches the service (e.g. APP__DATABASE__MAX_CONNECTIONS=8), as does
#   TOKIO_WORKER_THREADS (the runtime's worker threads; one per core by default).
#
# Needs: cargo, PostgreSQL at 127.0.0.1:5432 (user postgres, trust auth), psql,
# pgbench, python3, curl; installs wrk with apt-get when missing. Honours
# CARGO_TARGET_DIR.
set -euo pipefail

cd "$(dirname "$0")/.."
ROOT=$PWD
BENCH=$ROOT/bench

ROWS=${BENCH_ROWS:-100000}
WARMUP=${BENCH_WARMUP:-5}
DURATION=${BENCH_DURATION:-15}
WORKLOADS=${BENCH_WORKLOADS:-get_by_id lookup list_filter patch create}
READ_WORKLOADS="get_by_id lookup"
PORT=${BENCH_PORT:-18080}
CONNECTIONS=32
THREADS=2
SSLMODE=${BENCH_PG_SSLMODE:-disable}
PG="postgres://postgres@127.0.0.1:5432"
# The service and pgbench reach PostgreSQL the same way: TCP on loopback (not
# pgbench's default Unix socket), with the same sslmode.
export PGHOST=127.0.0.1 PGPORT=5432 PGUSER=postgres PGSSLMODE=$SSLMODE
PSQL=(psql -h 127.0.0.1 -U postgres -X -q -v ON_ERROR_STOP=1)
PG_LOG=/var/log/postgresql/postgresql-15-main.log
TARGET=${CARGO_TARGET_DIR:-$ROOT/target}
STAMP=$(date -u +%Y%m%dT%H%M%SZ)
OUT=$TARGET/bench/$STAMP
# A copy of the binary, which a concurrent build of the shared target directory cannot replace mid-run.
BIN=$OUT/integration-points
RESULTS=$OUT/results.tsv
BASE_URL="http://127.0.0.1:$PORT"
COLLECTION="$BASE_URL/rest/v1/service/integration_points"
SERVICE_PID=
PEAK_RSS=

export BENCH_ROWS=$ROWS

log() { printf '\n== %s\n' "$*" >&2; }

cleanup() {
    stop_service
    "${PSQL[@]}" -d postgres -c "ALTER DATABASE ip_bench RESET log_statement" 2>/dev/null || true
}
trap cleanup EXIT

ensure_tools() {
    if ! command -v wrk >/dev/null; then
        log "installing wrk"
        apt-get install -y wrk >/dev/null || { apt-get update >/dev/null && apt-get install -y wrk >/dev/null; }
    fi
    local tool
    for tool in cargo psql pgbench python3 curl; do
        command -v "$tool" >/dev/null || { echo "bench: $tool is required" >&2; exit 1; }
    done
    pg_isready -h 127.0.0.1 -p 5432 -q || { echo "bench: PostgreSQL is not up at 127.0.0.1:5432" >&2; exit 1; }
}

build() {
    if [ -n "${BENCH_BIN:-}" ]; then
        cp "$BENCH_BIN" "$BIN"
        return
    fi
    log "building the release binary"
    cargo build --release -p integration-points --locked
    # A hard link where possible: cargo replaces the file rather than
    # rewriting it, so the link keeps this build.
    ln -f "$TARGET/release/integration-points" "$BIN" 2>/dev/null \
        || cp "$TARGET/release/integration-points" "$BIN"
}

# create_pg DB ROWS: a fresh database, migrated by the binary, with ROWS points.
create_pg() {
    local db=$1 rows=$2
    log "loading $rows rows into PostgreSQL database $db"
    "${PSQL[@]}" -d postgres -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" -c "CREATE DATABASE $db"
    APP__DATABASE__URL="$PG/$db" APP__LOG__LEVEL=warn "$BIN" migrate up >/dev/null
    "${PSQL[@]}" -d "$db" -v rows="$rows" -f "$BENCH/sql/load_postgres.sql"
}

# create_sqlite FILE ROWS: the same data set in a SQLite file.
create_sqlite() {
    local file=$1 rows=$2
    log "loading $rows rows into SQLite $file"
    rm -f "$file" "$file-wal" "$file-shm"
    APP__DATABASE__URL="sqlite://$file?mode=rwc" APP__LOG__LEVEL=warn "$BIN" migrate up >/dev/null
    python3 "$BENCH/load_sqlite.py" "$file" "$rows"
}

# start_service URL LABEL: serves URL on $PORT and waits until it answers.
start_service() {
    local url=$1 label=$2
    APP__DATABASE__URL="$url" APP__DATABASE__AUTO_MIGRATE=false \
        APP__SERVER__HOST=127.0.0.1 APP__SERVER__PORT="$PORT" \
        "$BIN" serve >"$OUT/service-$label.log" 2>&1 &
    SERVICE_PID=$!
    local _
    for _ in $(seq 1 100); do
        if curl -fs -o /dev/null "${AUTH_CURL[@]}" "$COLLECTION?limit=1"; then
            return 0
        fi
        kill -0 "$SERVICE_PID" 2>/dev/null || break
        sleep 0.1
    done
    echo "bench: the service did not start; see $OUT/service-$label.log" >&2
    exit 1
}

# stop_service: stops the service; its peak resident set (KiB) is left in PEAK_RSS.
stop_service() {
    [ -n "$SERVICE_PID" ] || return 0
    PEAK_RSS=$(awk '/^VmHWM:/ {print $2}' "/proc/$SERVICE_PID/status" 2>/dev/null || echo "")
    kill "$SERVICE_PID" 2>/dev/null || true
    wait "$SERVICE_PID" 2>/dev/null || true
    SERVICE_PID=
}

# capture_sql: the statements PostgreSQL receives for one request of each kind,
# for the pgbench scripts to mirror (compare with bench/pgbench/*.sql).
capture_sql() {
    log "capturing the SQL of each request kind"
    "${PSQL[@]}" -d postgres -c "ALTER DATABASE ip_bench SET log_statement = 'all'"
    local offset
    offset=$(stat -c %s "$PG_LOG")
    # The setting applies to connections opened from now on: a fresh service.
    start_service "$PG/ip_bench?sslmode=$SSLMODE" capture
    "${PSQL[@]}" -d ip_bench -c "SELECT 'the readiness probe ends here'" >/dev/null
    local id=00000000-0000-0000-0000-000000000007 json=(-H 'Content-Type: application/json')
    capture get_by_id "$COLLECTION/$id"
    capture lookup -X LOOKUP "${json[@]}" -d '"00000000000000000000000000000007"' "$COLLECTION"
    capture list_filter -G "$COLLECTION" --data-urlencode 'filter={"type":"vk"}' \
        --data-urlencode 'order=["code"]' -d limit=100
    capture patch -X PATCH "${json[@]}" -d '{"opts":{"title":"captured"}}' "$COLLECTION/$id"
    capture create -X POST "${json[@]}" -d "{\"code\":\"capture-$STAMP\"}" "$COLLECTION"
    stop_service
    "${PSQL[@]}" -d postgres -c "ALTER DATABASE ip_bench RESET log_statement"
    tail -c +"$((offset + 1))" "$PG_LOG" | grep -E 'postgres@ip_bench (LOG|DETAIL)' \
        | sed -E 's/^.*postgres@ip_bench (LOG|DETAIL): +//' \
        | awk '/readiness probe ends here/ { on = 1; next } on && /^(execute|statement|parameters)/' \
        >"$OUT/statements.log" || true
}

# capture KIND CURL_ARGS...: sends one request, then writes a line in the
# PostgreSQL log that closes the statements of KIND.
capture() {
    local kind=$1
    shift
    curl -fs -o /dev/null "${AUTH_CURL[@]}" "$@"
    "${PSQL[@]}" -d ip_bench -c "SELECT 'the statements of $kind end here'" >/dev/null
}

# run_wrk WORKLOAD LABEL: warm-up, then the measured run; prints the RESULT line.
# CPU accounting, in clock ticks: the whole machine's busy time (user, nice,
# system, irq, softirq; not idle, I/O wait or time stolen by the hypervisor)
# and one process's user and system time.
HZ=$(getconf CLK_TCK)
busy_ticks() { awk '/^cpu / {print $2 + $3 + $4 + $7 + $8}' /proc/stat; }
# The machine's ticks of every kind, and those the hypervisor gave to other guests.
all_ticks() { awk '/^cpu / {for (i = 2; i <= 9; i++) sum += $i; print sum}' /proc/stat; }
stolen_ticks() { awk '/^cpu / {print $9}' /proc/stat; }
process_ticks() { awk '{print $14 + $15}' "/proc/$1/stat" 2>/dev/null || echo 0; }
# per_request TICKS COUNT: microseconds of CPU per request.
per_request() { awk -v t="$1" -v n="$2" -v hz="$HZ" 'BEGIN { printf "%.0f", (n > 0 ? t * 1e6 / hz / n : 0) }'; }
# client_per_request TIME_FILE COUNT: the user and system seconds /usr/bin/time wrote, per request, in µs.
client_per_request() { awk -v n="$2" '{ printf "%.0f", (n > 0 ? ($1 + $2) * 1e6 / n : 0) }' "$1"; }

# run_wrk WORKLOAD LABEL: wrk's RESULT line of the measured run, with the CPU
# per request of the machine, the service and wrk appended.
run_wrk() {
    local workload=$1 label=$2
    local out=$OUT/wrk-$label-$workload.txt timing=$OUT/time-wrk-$label-$workload.txt
    local busy service all stolen
    (
        cd "$BENCH/lua"
        BENCH_RUN_ID="$STAMP-$label-warmup" wrk -t"$THREADS" -c"$CONNECTIONS" -d"${WARMUP}s" \
            -s "$workload.lua" "$BASE_URL" >"$OUT/wrk-$label-$workload-warmup.txt"
    )
    busy=$(busy_ticks) service=$(process_ticks "$SERVICE_PID") all=$(all_ticks) stolen=$(stolen_ticks)
    (
        cd "$BENCH/lua"
        BENCH_RUN_ID="$STAMP-$label" /usr/bin/time -f '%U %S' -o "$timing" \
            wrk -t"$THREADS" -c"$CONNECTIONS" -d"${DURATION}s" --latency \
            -s "$workload.lua" "$BASE_URL" >"$out"
    )
    busy=$(( $(busy_ticks) - busy )) service=$(( $(process_ticks "$SERVICE_PID") - service ))
    all=$(( $(all_ticks) - all )) stolen=$(( $(stolen_ticks) - stolen ))
    local requests
    requests=$(sed -nE 's/^ *([0-9]+) requests in .*/\1/p' "$out")
    echo "$(grep '^RESULT' "$out") cpu_total_us=$(per_request "$busy" "$requests")" \
        "cpu_service_us=$(per_request "$service" "$requests")" \
        "cpu_client_us=$(client_per_request "$timing" "$requests")" \
        "stolen_pct=$(awk -v s="$stolen" -v a="$all" 'BEGIN { printf "%.0f", (a > 0 ? s * 100 / a : 0) }')"
}

run_pgbench() {
    local workload=$1 db=$2 rows=$3 label=$4
    local script=$BENCH/pgbench/$workload.sql
    local common=(-n -M prepared -c "$CONNECTIONS" -j "$THREADS" -f "$script"
        -D rows="$rows" -D run="$STAMP-$label")
    pgbench "${common[@]}" -D phase=warmup -T "$WARMUP" "$db" >"$OUT/pgbench-$label-$workload-warmup.txt" 2>&1
    local prefix=$OUT/pgbench-$label-$workload-log out=$OUT/pgbench-$label-$workload.txt
    local timing=$OUT/time-pgbench-$label-$workload.txt busy
    busy=$(busy_ticks)
    (cd "$OUT" && /usr/bin/time -f '%U %S' -o "$timing" \
        pgbench "${common[@]}" -D phase=measured -T "$DURATION" -l --log-prefix="$prefix" "$db") \
        >"$out" 2>&1
    busy=$(( $(busy_ticks) - busy ))
    local tps transactions
    tps=$(sed -nE 's/^tps = ([0-9.]+) \(without initial connection time\)/\1/p' "$out")
    transactions=$(sed -nE 's/^number of transactions actually processed: ([0-9]+).*/\1/p' "$out")
    # Column 3 of pgbench's transaction log is the latency in microseconds.
    cat "$prefix".* | awk '{print $3}' | sort -n | awk -v tps="$tps" \
        -v total="$(per_request "$busy" "$transactions")" \
        -v client="$(client_per_request "$timing" "$transactions")" '
        { v[NR] = $1 }
        END {
            p50 = v[int(NR * 0.50) > 0 ? int(NR * 0.50) : 1]
            p99 = v[int(NR * 0.99) > 0 ? int(NR * 0.99) : 1]
            printf "%s %d %d %d %d\n", tps, p50, p99, total, client
        }'
    rm -f "$prefix".*
}

field() { sed -nE "s/.*\\b$1=([0-9.]+).*/\\1/p" <<<"$2"; }

# measure BACKEND LABEL DB ROWS WORKLOADS...: one row of results.tsv per workload;
# DB is the PostgreSQL database for the ceiling, or - for none.
measure() {
    local backend=$1 label=$2 db=$3 rows=$4
    shift 4
    local workload result ceiling
    for workload in "$@"; do
        log "$label: $workload"
        result=$(run_wrk "$workload" "$label")
        ceiling="- - - - -"
        if [ "$db" != - ]; then
            ceiling=$(run_pgbench "$workload" "$db" "$rows" "$label")
        fi
        # shellcheck disable=SC2086 # $ceiling is five fields
        printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' \
            "$backend" "$label" "$rows" "$workload" \
            "$(field rps "$result")" "$(field p50_us "$result")" "$(field p99_us "$result")" \
            "$(( $(field status_errors "$result") + $(field socket_errors "$result") ))" \
            $ceiling \
            "$(field cpu_total_us "$result")" "$(field cpu_service_us "$result")" \
            "$(field cpu_client_us "$result")" "$(field stolen_pct "$result")" >>"$RESULTS"
    done
}

setting() { "${PSQL[@]}" -d ip_bench -Atc "SHOW $1"; }

report() {
    local pg_rss=$1 sqlite_rss=$2
    local service_config
    service_config=$(env APP__DATABASE__URL="$PG/ip_bench" "$BIN" check-config)
    local pool
    pool=$(sed -nE 's/^max_connections = ([0-9]+)/\1/p' <<<"$service_config" | head -1)
    echo "# Benchmark report"
    echo
    echo "- command: \`bench/run.sh\` ($CONNECTIONS connections, $THREADS threads, ${WARMUP} s warm-up, ${DURATION} s measured)"
    if [ -n "${BENCH_BIN:-}" ]; then
        echo "- binary: $BENCH_BIN (given by BENCH_BIN), date: $(date -u '+%Y-%m-%d %H:%M UTC')"
    else
        echo "- commit: $(git rev-parse --short HEAD)$(git diff --quiet HEAD -- crates config migrations Cargo.toml Cargo.lock || echo ' (with uncommitted changes)'), date: $(date -u '+%Y-%m-%d %H:%M UTC')"
    fi
    echo "- machine: $(nproc) cores, $(sed -nE 's/^model name\s*: //p' /proc/cpuinfo | head -1), $(free -g | awk '/^Mem:/ {print $2}') GiB memory; load generator, service and database on the same machine"
    echo "- load average before the run: $LOAD_BEFORE"
    echo "- PostgreSQL $("${PSQL[@]}" -d ip_bench -Atc 'SHOW server_version'), reached over TCP on 127.0.0.1 with sslmode=$SSLMODE by both the service and pgbench: synchronous_commit=$(setting synchronous_commit), shared_buffers=$(setting shared_buffers), max_connections=$(setting max_connections), fsync=$(setting fsync)"
    local overrides
    # Values of settings that may hold a secret are not printed.
    overrides=$(env | grep -E '^(APP__|TOKIO_WORKER_THREADS=)' | sort \
        | sed -E 's/^([^=]*(AUTH|KEY|SECRET|PASSWORD|TOKEN)[^=]*)=.*/\1=<redacted>/' | tr '\n' ' ' || true)
    echo "- service: pool size (database.max_connections) $pool, log level $(sed -nE 's/^level = "(.*)"/\1/p' <<<"$service_config"), settings from the environment: ${overrides:-none}"
    echo "- peak RSS of the service (VmHWM): PostgreSQL run ${pg_rss:-?} KiB, SQLite run ${sqlite_rss:-?} KiB"
    echo
    echo "## PostgreSQL, $ROWS rows: service against pgbench running the same SQL"
    echo
    echo "| workload | service req/s | p50 ms | p99 ms | errors | pgbench tps | p50 ms | p99 ms | service / pgbench |"
    echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|"
    awk -F'\t' '$2 == "pg" {
        printf "| %s | %.0f | %.2f | %.2f | %d | %.0f | %.2f | %.2f | %.2f |\n",
            $4, $5, $6 / 1000, $7 / 1000, $8, $9, $10 / 1000, $11 / 1000, $5 / $9 }' "$RESULTS"
    echo
    echo "## CPU time per request, PostgreSQL, $ROWS rows"
    echo
    echo "Microseconds of CPU per request (per transaction for pgbench): the whole machine's busy time, then the"
    echo "service's and the load generator's own; the rest is PostgreSQL and the kernel's work for all of them."
    echo "Stolen: the share of the machine's time the hypervisor gave to other guests during the service's run,"
    echo "when none of these processes could run; where it is high, the run's latencies and rates are not quiet."
    echo
    echo "| workload | machine | service | wrk | rest | pgbench run: machine | pgbench | rest | stolen |"
    echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|"
    awk -F'\t' '$2 == "pg" {
        printf "| %s | %d | %d | %d | %d | %d | %d | %d | %d %% |\n",
            $4, $14, $15, $16, $14 - $15 - $16, $12, $13, $12 - $13, $17 }' "$RESULTS"
    if grep -q $'\tsqlite\t' "$RESULTS"; then
        echo
        echo "## SQLite, $ROWS rows"
        echo
        echo "| workload | service req/s | p50 ms | p99 ms | errors | PostgreSQL req/s | SQLite / PostgreSQL | stolen |"
        echo "|---|---:|---:|---:|---:|---:|---:|---:|"
        awk -F'\t' '$2 == "pg" { pg[$4] = $5 }
            $2 == "sqlite" { printf "| %s | %.0f | %.2f | %.2f | %d | %s | %s | %d %% |\n",
                $4, $5, $6 / 1000, $7 / 1000, $8,
                ($4 in pg) ? sprintf("%.0f", pg[$4]) : "-",
                ($4 in pg) ? sprintf("%.2f", $5 / pg[$4]) : "-", $17 }' "$RESULTS"
    fi
    if grep -q $'\tscale-' "$RESULTS"; then
        echo
        echo "## Scale: PostgreSQL at 10,000 and 1,000,000 rows"
        echo
        echo "| workload | 10k req/s | 10k p99 ms | 1M req/s | 1M p99 ms | 1M / 10k | pgbench 10k tps | pgbench 1M tps |"
        echo "|---|---:|---:|---:|---:|---:|---:|---:|"
        awk -F'\t' '$2 == "scale-10k" { s[$4] = $5; s99[$4] = $7; c[$4] = $9 }
            $2 == "scale-1m" { printf "| %s | %.0f | %.2f | %.0f | %.2f | %.2f | %.0f | %.0f |\n",
                $4, s[$4], s99[$4] / 1000, $5, $7 / 1000, $5 / s[$4], c[$4], $9 }' "$RESULTS"
    fi
    echo
    echo "## The SQL each request issues (captured from the PostgreSQL log)"
    echo
    echo '```text'
    cat "$OUT/statements.log"
    echo '```'
}

main() {
    mkdir -p "$OUT"
    : >"$RESULTS"
    LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
    AUTH_CURL=()
    if [ -n "${BENCH_API_KEY:-}" ]; then
        AUTH_CURL=(-H "Authorization: Bearer $BENCH_API_KEY")
    fi
    ensure_tools
    build

    create_pg ip_bench "$ROWS"
    capture_sql
    local pg_rss sqlite_rss=
    start_service "$PG/ip_bench?sslmode=$SSLMODE" pg
    # shellcheck disable=SC2086 # word lists
    measure postgres pg ip_bench "$ROWS" $WORKLOADS
    stop_service
    pg_rss=$PEAK_RSS

    if [ "${BENCH_SQLITE:-1}" = 1 ]; then
        local file=$OUT/ip_bench.db
        create_sqlite "$file" "$ROWS"
        start_service "sqlite://$file" sqlite
        # shellcheck disable=SC2086
        measure sqlite sqlite - "$ROWS" $WORKLOADS
        stop_service
        sqlite_rss=$PEAK_RSS
        rm -f "$file" "$file-wal" "$file-shm"
    fi

    if [ "${BENCH_SCALE:-1}" = 1 ]; then
        local rows label
        for rows in 10000 1000000; do
            label=scale-$([ "$rows" = 10000 ] && echo 10k || echo 1m)
            create_pg ip_bench_scale "$rows"
            start_service "$PG/ip_bench_scale?sslmode=$SSLMODE" "$label"
            BENCH_ROWS=$rows measure postgres "$label" ip_bench_scale "$rows" $READ_WORKLOADS
            stop_service
        done
        "${PSQL[@]}" -d postgres -c "DROP DATABASE IF EXISTS ip_bench_scale WITH (FORCE)"
    fi

    report "$pg_rss" "$sqlite_rss" | tee "$OUT/report.md"
    # The service logs one line per request: keep only their ends.
    local service_log
    for service_log in "$OUT"/service-*.log; do
        tail -n 50 "$service_log" >"$service_log.tail" && rm "$service_log"
    done
    echo >&2
    echo "report: $OUT/report.md" >&2
}

main "$@"
