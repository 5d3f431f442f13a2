package sqlite

import (
	"bufio"
	"database/sql"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	_ "modernc.org/sqlite"
)

// graphDir is where exec's BenchmarkExportCSV left the graph of the
// configured size and shape (the same variables as exec's benchmarks).
func graphDir() (string, int, string, error) {
	root := os.Getenv("TETRA_BENCH_DATA")
	if root == "" {
		return "", 0, "", fmt.Errorf("set TETRA_BENCH_DATA to the directory of exec's benchmark stores")
	}
	n := 100_000
	switch s := strings.ToLower(os.Getenv("TETRA_BENCH_SIZE")); s {
	case "", "100k":
	case "1m":
		n = 1_000_000
	default:
		v, err := strconv.Atoi(s)
		if err != nil {
			return "", 0, "", fmt.Errorf("TETRA_BENCH_SIZE=%q", s)
		}
		n = v
	}
	shape := strings.ToLower(os.Getenv("TETRA_BENCH_SHAPE"))
	if shape == "" {
		shape = "local"
	}
	name := fmt.Sprintf("%s-%d", shape, n)
	if h := os.Getenv("TETRA_BENCH_HOURS"); h != "" && h != "720" {
		name += "-h" + h
	}
	return filepath.Join(root, name, "csv"), n, shape, nil
}

var (
	dbOnce sync.Once
	db     *sql.DB
	dbN    int
	dbName func(i int) string
	dbErr  error
)

func open(b *testing.B) *sql.DB {
	dbOnce.Do(func() {
		var dir, shape string
		dir, dbN, shape, dbErr = graphDir()
		if dbErr != nil {
			return
		}
		dbName = func(i int) string { return fmt.Sprintf("c-%d", i) }
		if shape == "uniform" {
			dbName = func(i int) string { return fmt.Sprintf("c%d", i) }
		}
		if _, err := os.Stat(filepath.Join(dir, "components.csv")); err != nil {
			dbErr = fmt.Errorf("no CSV export of the benchmark graph in %s: write it first with exec's BenchmarkExportCSV (see doc.go): %w", dir, err)
			return
		}
		path := filepath.Join(dir, "sqlite.db")
		_, statErr := os.Stat(path)
		if db, dbErr = sql.Open("sqlite", path+"?_pragma=journal_mode(OFF)&_pragma=synchronous(OFF)&_pragma=cache_size(-1000000)&_pragma=mmap_size(4000000000)"); dbErr != nil {
			return
		}
		db.SetMaxOpenConns(1)
		if statErr != nil {
			t0 := time.Now()
			if dbErr = load(db, dir); dbErr != nil {
				os.Remove(path)
				return
			}
			fmt.Fprintf(os.Stderr, "loaded %s into SQLite with its indexes in %s\n", dir, time.Since(t0).Round(time.Millisecond))
		}
	})
	if dbErr != nil {
		b.Fatal(dbErr)
	}
	return db
}

const schema = `
CREATE TABLE components (id INTEGER PRIMARY KEY, name TEXT, type TEXT, layer TEXT, domain TEXT, env TEXT, health TEXT);
CREATE TABLE labels (component INTEGER, label TEXT);
CREATE TABLE relations (id INTEGER PRIMARY KEY, source INTEGER, target INTEGER, type TEXT);`

const indexes = `
CREATE INDEX components_name ON components(name);
CREATE INDEX components_type_domain ON components(type, domain);
CREATE INDEX components_domain ON components(domain);
CREATE INDEX labels_label ON labels(label, component);
CREATE INDEX labels_component ON labels(component);
CREATE INDEX relations_source ON relations(source);
CREATE INDEX relations_target ON relations(target);`

// load reads the CSV files into tables, then builds the indexes.
func load(db *sql.DB, dir string) error {
	if _, err := db.Exec(schema); err != nil {
		return err
	}
	for _, t := range []struct {
		file, insert string
		cols         int
	}{
		{"components.csv", "INSERT INTO components VALUES (?, ?, ?, ?, ?, ?, ?)", 7},
		{"labels.csv", "INSERT INTO labels VALUES (?, ?)", 2},
		{"relations.csv", "INSERT INTO relations VALUES (?, ?, ?, ?)", 4},
	} {
		if err := loadCSV(db, filepath.Join(dir, t.file), t.insert, t.cols); err != nil {
			return err
		}
	}
	_, err := db.Exec(indexes + "ANALYZE;")
	return err
}

func loadCSV(db *sql.DB, path, insert string, cols int) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	tx, err := db.Begin()
	if err != nil {
		return err
	}
	st, err := tx.Prepare(insert)
	if err != nil {
		return err
	}
	sc := bufio.NewScanner(f)
	args := make([]any, cols)
	for sc.Scan() {
		parts := strings.SplitN(sc.Text(), ",", cols)
		if len(parts) != cols {
			return fmt.Errorf("%s: bad line %q", path, sc.Text())
		}
		for i, p := range parts {
			args[i] = p
		}
		if _, err := st.Exec(args...); err != nil {
			return err
		}
	}
	if err := sc.Err(); err != nil {
		return err
	}
	return tx.Commit()
}

// row is a component as the result carries it.
type row struct {
	id                                       int64
	name, typ, layer, domain, env, health, l string
}

const componentColumns = `c.id, c.name, c.type, c.layer, c.domain, c.env, c.health,
	(SELECT group_concat(label) FROM labels WHERE component = c.id)`

// result reads component rows, then the relations among them, as Tetra's
// results carry them: every relation whose both ends are in the result.
func result(db *sql.DB, rows *sql.Rows, err error) (int, error) {
	if err != nil {
		return 0, err
	}
	var comps []row
	for rows.Next() {
		var r row
		var labels sql.NullString
		if err := rows.Scan(&r.id, &r.name, &r.typ, &r.layer, &r.domain, &r.env, &r.health, &labels); err != nil {
			rows.Close()
			return 0, err
		}
		r.l = labels.String
		comps = append(comps, r)
	}
	rows.Close()
	ids := make([]int64, len(comps))
	for i, c := range comps {
		ids[i] = c.id
	}
	slices.Sort(ids)
	if _, err := among(db, ids); err != nil {
		return 0, err
	}
	return len(comps), nil
}

// among returns the relations from a component of ids to another, in one
// query (SQLite answers it from the source and target indexes).
func among(db *sql.DB, ids []int64) (int, error) {
	if len(ids) == 0 {
		return 0, nil
	}
	list := make([]string, len(ids))
	for i, id := range ids {
		list[i] = strconv.FormatInt(id, 10)
	}
	in := "(" + strings.Join(list, ",") + ")"
	rs, err := db.Query(`SELECT id, source, target, type FROM relations WHERE source IN ` + in + ` AND target IN ` + in)
	if err != nil {
		return 0, err
	}
	defer rs.Close()
	n := 0
	for rs.Next() {
		var id, source, target int64
		var typ string
		if err := rs.Scan(&id, &source, &target, &typ); err != nil {
			return 0, err
		}
		n++
	}
	return n, rs.Err()
}

// neighbours is withNeighborsOf levels 2 both: the seed named name and
// every component two hops away either way, one indexed lookup per
// component and direction, then the rows and the relations among them.
func neighbours(db *sql.DB, name string, levels int) (int, error) {
	var seed int64
	switch err := db.QueryRow(`SELECT id FROM components WHERE name = ?`, name).Scan(&seed); {
	case errors.Is(err, sql.ErrNoRows):
		return 0, nil // removed by the churn: an empty answer, as Tetra's
	case err != nil:
		return 0, err
	}
	visited := map[int64]bool{seed: true}
	frontier := []int64{seed}
	for range levels {
		var next []int64
		for _, id := range frontier {
			for _, q := range []string{`SELECT target FROM relations WHERE source = ?`, `SELECT source FROM relations WHERE target = ?`} {
				rs, err := db.Query(q, id)
				if err != nil {
					return 0, err
				}
				for rs.Next() {
					var o int64
					rs.Scan(&o)
					if !visited[o] {
						visited[o] = true
						next = append(next, o)
					}
				}
				rs.Close()
			}
		}
		frontier = next
	}
	ids := make([]string, 0, len(visited))
	for id := range visited {
		ids = append(ids, strconv.FormatInt(id, 10))
	}
	rows, err := db.Query(`SELECT ` + componentColumns + ` FROM components c WHERE c.id IN (` + strings.Join(ids, ",") + `)`)
	return result(db, rows, err)
}

func latencies(b *testing.B, q func(db *sql.DB, r *rand.Rand) (int, error)) {
	db := open(b)
	r := rand.New(rand.NewPCG(7, 7))
	for range 256 { // warm up
		if _, err := q(db, r); err != nil {
			b.Fatal(err)
		}
	}
	times := make([]time.Duration, 0, b.N)
	results := 0
	b.ResetTimer()
	for range b.N {
		t0 := time.Now()
		n, err := q(db, r)
		times = append(times, time.Since(t0))
		if err != nil {
			b.Fatal(err)
		}
		results += n
	}
	b.StopTimer()
	slices.Sort(times)
	b.ReportMetric(float64(times[len(times)/2].Nanoseconds())/1e3, "p50-µs")
	b.ReportMetric(float64(times[len(times)*99/100].Nanoseconds())/1e3, "p99-µs")
	b.ReportMetric(float64(results)/float64(b.N), "results")
}

// (a) a selective filter returning about 100 components.
func BenchmarkSelectiveFilter(b *testing.B) {
	latencies(b, func(db *sql.DB, r *rand.Rand) (int, error) {
		rows, err := db.Query(`SELECT `+componentColumns+` FROM labels l JOIN components c ON c.id = l.component WHERE l.label = ?`,
			fmt.Sprintf("app:%d", r.IntN(dbN/100)))
		return result(db, rows, err)
	})
}

// (b) withNeighborsOf, two levels both ways, from one seed.
func BenchmarkNeighbors(b *testing.B) {
	latencies(b, func(db *sql.DB, r *rand.Rand) (int, error) { return neighbours(db, dbName(r.IntN(dbN)), 2) })
}

// (d) label = "x" over 10% of the graph.
func BenchmarkBroadLabel(b *testing.B) {
	latencies(b, func(db *sql.DB, r *rand.Rand) (int, error) {
		rows, err := db.Query(`SELECT ` + componentColumns + ` FROM labels l JOIN components c ON c.id = l.component WHERE l.label = 'x'`)
		return result(db, rows, err)
	})
}

// (f) three keys together: a type, a domain and a team label.
func BenchmarkConjunction(b *testing.B) {
	latencies(b, func(db *sql.DB, r *rand.Rand) (int, error) {
		d := r.IntN(20)
		rows, err := db.Query(`SELECT `+componentColumns+` FROM components c JOIN labels l ON l.component = c.id AND l.label = ?
			WHERE c.type = 'pod' AND c.domain = ?`, fmt.Sprintf("team:t%d", d+20*r.IntN(2)), fmt.Sprintf("domain-%d", d))
		return result(db, rows, err)
	})
}

// (g) one component by name.
func BenchmarkName(b *testing.B) {
	latencies(b, func(db *sql.DB, r *rand.Rand) (int, error) {
		rows, err := db.Query(`SELECT `+componentColumns+` FROM components c WHERE c.name = ?`, dbName(r.IntN(dbN)))
		return result(db, rows, err)
	})
}
