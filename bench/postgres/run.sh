#!/usr/bin/env bash
# The PostgreSQL side of Tetra's benchmark comparison: sets up PostgreSQL 15
# from the Debian packages, loads the same generated graph that Tetra's
# benchmarks answer on (written as CSV by exec's BenchmarkExportCSV), and
# runs pgbench over loopback TCP for the selective filter (a) and the
# two-level neighbourhood (b), reporting p50 and p99 latencies.
#
#   bench/postgres/run.sh /work/benchdata/uniform-1000000/csv [seconds]
#
# With seconds 0 it loads the graph and stops there (loading takes minutes
# and needs no benchmark lock; the pgbench runs do).
#
# Needs root (apt-get, the postgres user). Idempotent: the graph is loaded
# once per CSV directory (database tetra_<shape>_<n>).
set -euo pipefail
csv=${1:?usage: run.sh CSV_DIR [SECONDS]}
secs=${2:-30}
csv=$(cd "$csv" && pwd)
graph=$(basename "$(dirname "$csv")")        # e.g. uniform-1000000 or uniform-1000000-h0
shape=$(echo "$graph" | cut -d- -f1)
n=$(echo "$graph" | cut -d- -f2)
db="tetra_$(echo "$graph" | tr - _)"
prefix="c-"; [ "$shape" = uniform ] && prefix="c"

if ! command -v pg_ctlcluster >/dev/null || ! ls /usr/lib/postgresql/*/bin/pgbench >/dev/null 2>&1; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql postgresql-contrib >/dev/null
fi
ver=$(ls /usr/lib/postgresql | sort -n | tail -1)
pgbench=/usr/lib/postgresql/$ver/bin/pgbench
# A cluster this script starts is stopped when it ends: left running, its
# server would keep a file descriptor the script inherited, such as the
# benchmark lock that `flock /tmp/tetra-bench.lock bench/postgres/run.sh`
# holds, and every later benchmark would wait for it.
started=
if ! pg_ctlcluster "$ver" main status >/dev/null 2>&1; then
  pg_ctlcluster "$ver" main start
  started=1
fi
work=$(mktemp -d)
trap 'rm -rf "$work"; [ -z "$started" ] || pg_ctlcluster "$ver" main stop' EXIT
psql() { runuser -u postgres -- psql -X -q -v ON_ERROR_STOP=1 "$@"; }

if ! psql -lqt | cut -d'|' -f1 | grep -qw "$db"; then
  echo "loading $csv into $db …"
  psql -c "CREATE DATABASE $db"
  chmod o+rx "$csv" && chmod o+r "$csv"/*.csv
  start=$(date +%s)
  psql -d "$db" <<SQL
CREATE TABLE components (id bigint PRIMARY KEY, name text, type text, layer text, domain text, env text, health text);
CREATE TABLE labels (component bigint, label text);
CREATE TABLE relations (id bigint PRIMARY KEY, source bigint, target bigint, type text);
\copy components FROM '$csv/components.csv' WITH (FORMAT csv)
\copy labels FROM '$csv/labels.csv' WITH (FORMAT csv)
\copy relations FROM '$csv/relations.csv' WITH (FORMAT csv)
CREATE INDEX ON components(name);
CREATE INDEX ON components(type, domain);
CREATE INDEX ON labels(label, component);
CREATE INDEX ON labels(component);
CREATE INDEX ON relations(source);
CREATE INDEX ON relations(target);
ANALYZE;
SQL
  echo "loaded in $(( $(date +%s) - start )) s"
fi
psql -c "ALTER USER postgres PASSWORD 'postgres'" >/dev/null
[ "$secs" != 0 ] || exit 0

# (a) the components with one app label (about 100), with their labels, and
# the relations among them: what Tetra's result holds.
cat > "$work/a.sql" <<SQL
\set app random(0, $(( n / 100 - 1 )))
WITH sel AS (
  SELECT c.* FROM labels l JOIN components c ON c.id = l.component WHERE l.label = 'app:' || :app)
SELECT 'c', s.id, s.name, s.type, s.layer, s.domain, s.env, s.health,
       (SELECT string_agg(label, ',') FROM labels WHERE component = s.id) FROM sel s
UNION ALL
SELECT 'r', r.id, r.type, NULL, NULL, NULL, NULL, NULL, NULL
  FROM relations r JOIN sel a ON a.id = r.source JOIN sel b ON b.id = r.target;
SQL
# (b) withNeighborsOf levels 2 both from one seed: the seed, every component
# within two hops either way, their rows and the relations among them.
cat > "$work/b.sql" <<SQL
\set i random(0, $(( n - 1 )))
WITH seed AS (SELECT id FROM components WHERE name = '$prefix' || :i),
l1 AS (SELECT r.target AS id FROM relations r JOIN seed s ON r.source = s.id
       UNION SELECT r.source FROM relations r JOIN seed s ON r.target = s.id),
l2 AS (SELECT r.target AS id FROM relations r JOIN l1 ON r.source = l1.id
       UNION SELECT r.source FROM relations r JOIN l1 ON r.target = l1.id),
res AS (SELECT id FROM seed UNION SELECT id FROM l1 UNION SELECT id FROM l2)
SELECT 'c', c.id, c.name, c.type, c.layer, c.domain, c.env, c.health,
       (SELECT string_agg(label, ',') FROM labels WHERE component = c.id)
  FROM components c JOIN res USING (id)
UNION ALL
SELECT 'r', r.id, r.type, NULL, NULL, NULL, NULL, NULL, NULL
  FROM relations r JOIN res a ON a.id = r.source JOIN res b ON b.id = r.target;
SQL
for q in a b; do
  (cd "$work" && PGPASSWORD=postgres "$pgbench" -h 127.0.0.1 -U postgres -n -c 1 -j 1 -T "$secs" \
      -l --log-prefix="$q" -f "$q.sql" "$db" >"$q.out" 2>&1) || { cat "$work/$q.out"; exit 1; }
  # log lines: client_id transaction_no time script_no time_epoch time_us; time is µs
  awk '{print $3}' "$work"/"$q".[0-9]* | sort -n > "$work/$q.lat"
  count=$(wc -l < "$work/$q.lat")
  p50=$(awk -v n="$count" 'NR == int(n*0.50)+1' "$work/$q.lat")
  p99=$(awk -v n="$count" 'NR == int(n*0.99)+1' "$work/$q.lat")
  echo "postgres $graph ($q): $count queries, p50 ${p50} µs, p99 ${p99} µs"
done
