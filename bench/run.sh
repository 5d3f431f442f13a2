#!/usr/bin/env bash
# Runs the graph store's benchmarks on the generated topologies, beside the
# peers on the same graphs, and prints every figure:
#
#   bench/run.sh                          # 100k and 1m, local and uniform
#   bench/run.sh "100k" "uniform"         # one size, one shape
#
# Generated stores are kept under $TETRA_BENCH_DATA (default
# /work/benchdata) and reused. Each measurement holds /tmp/tetra-bench.lock
# so that two never run at once on a shared machine. PostgreSQL runs only
# with TETRA_BENCH_POSTGRES=1 (it installs packages; see postgres/run.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
export TETRA_BENCH_DATA=${TETRA_BENCH_DATA:-/work/benchdata}
sizes=${1:-"100k 1m"}
shapes=${2:-"local uniform"}
lock() { flock /tmp/tetra-bench.lock "$@"; }
for size in $sizes; do
  for shape in $shapes; do
    export TETRA_BENCH_SIZE=$size TETRA_BENCH_SHAPE=$shape
    echo "== tetra $shape $size"
    lock go test ./exec -run '^$' -bench 'Open|History|ExportCSV' -benchtime 1x
    lock go test ./exec -run '^$' -bench 'Selective|Neighbors|Conjunction|Name' -benchtime 2000x
    lock go test ./exec -run '^$' -bench 'BroadLabel|Changes24h' -benchtime 30x
    lock go test ./exec -run '^$' -bench 'BulkLoad' -benchtime 1x
    echo "== sqlite $shape $size"
    (cd bench/sqlite && lock go test -run '^$' -bench 'Selective|Neighbors|Conjunction|Name' -benchtime 2000x &&
      lock go test -run '^$' -bench 'BroadLabel' -benchtime 30x)
    if [ "${TETRA_BENCH_POSTGRES:-}" = 1 ]; then
      n=100000; [ "$size" = 1m ] && n=1000000
      dir="$shape-$n"; [ -n "${TETRA_BENCH_HOURS:-}" ] && [ "$TETRA_BENCH_HOURS" != 720 ] && dir="$dir-h$TETRA_BENCH_HOURS"
      echo "== postgres $shape $size"
      lock bench/postgres/run.sh "$TETRA_BENCH_DATA/$dir/csv" 30
    fi
  done
done
