#!/usr/bin/env bash
# `import` of ROWS points into a fresh PostgreSQL database, RUNS times (each
# into a new database, ip_import_bench, migrated beforehand), then one export
# of the result compared byte for byte with the input:
#
#   flock /work/bench.lock bench/import.sh target/release/integration-points
#
# Prints one table row per run with the load average at its end.
# Env: ROWS (100000), RUNS (3), POINTS (a file of them; generated when missing).
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=$(realpath "${1:?usage: import.sh PATH/TO/integration-points}")
ROWS=${ROWS:-100000} RUNS=${RUNS:-3}
POINTS=${POINTS:-/tmp/import_bench_$ROWS.ndjson}
[ -s "$POINTS" ] || python3 bench/import_points.py "$ROWS" >"$POINTS"
PSQL=(psql -qX -h 127.0.0.1 -U postgres)
export APP__DATABASE__URL=postgres://postgres@127.0.0.1:5432/ip_import_bench APP__LOG__LEVEL=warn
echo "| run | import | rows/s | load average (1 min) |"
echo "|---|---:|---:|---:|"
for run in $(seq "$RUNS"); do
  "${PSQL[@]}" -d postgres -c "DROP DATABASE IF EXISTS ip_import_bench WITH (FORCE)" \
    -c "CREATE DATABASE ip_import_bench" >/dev/null
  "$BIN" migrate up >/dev/null
  start=$(date +%s.%N)
  "$BIN" import <"$POINTS" >/tmp/import_bench_summary.txt
  end=$(date +%s.%N)
  load=$(cut -d' ' -f1 /proc/loadavg)
  awk -v r="$run" -v s="$start" -v e="$end" -v n="$ROWS" -v l="$load" \
    'BEGIN {printf "| %s | %.2f s | %.0f | %s |\n", r, e - s, n / (e - s), l}'
done
tail -1 /tmp/import_bench_summary.txt
start=$(date +%s.%N)
"$BIN" export >/tmp/import_bench_export.ndjson
end=$(date +%s.%N)
same=$(cmp -s /tmp/import_bench_export.ndjson "$POINTS" && echo "identical to the input" || echo "DIFFERS from the input")
awk -v s="$start" -v e="$end" -v n="$ROWS" -v same="$same" \
  'BEGIN {printf "| export | %.2f s | %.0f | %s |\n", e - s, n / (e - s), same}'
