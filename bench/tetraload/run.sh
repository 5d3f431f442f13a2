#!/usr/bin/env bash
# A first `tetra load` of a generated graph, with its wall and CPU time and
# peak RSS (/usr/bin/time -v): the graph's CSV export is written as 10
# StackState intake files (intake.py), loaded into a new data directory under
# $TMPDIR (removed afterwards) while holding the benchmark lock.
#
#   bench/tetraload/run.sh /work/benchdata/uniform-1000000-h0/csv [TETRA_BINARY]
set -euo pipefail
csv=${1:?usage: run.sh CSV_DIR [TETRA_BINARY]}
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
tetra=${2:-}
if [ -z "$tetra" ]; then
  tetra=$work/tetra
  (cd "$here/../.." && go build -o "$tetra" ./cmd/tetra)
fi
mkdir "$work/in"
python3 "$here/intake.py" "$csv" "$work/in"
flock /tmp/tetra-bench.lock /usr/bin/time -v "$tetra" load --data "$work/data" "$work"/in/part-*.json \
  > "$work/out" 2> "$work/time"
tail -2 "$work/out"
grep -E "Elapsed|User time|System time|Maximum resident" "$work/time"
du -sh "$work/data"
