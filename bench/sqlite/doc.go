// Package sqlite is the peer benchmark of Tetra's graph store: the same
// queries as exec's benchmarks, on the same generated graph (exported by
// exec's BenchmarkExportCSV), against SQLite in-process (modernc.org/sqlite,
// pure Go, so no C toolchain), with indexes on every field a query
// filters by. It is a module of its own so that the product does not
// depend on SQLite. SQLite keeps no history: it holds the graph as it is
// now, which is what these queries read (Tetra keeps 30 days of versions
// beside it).
//
//	TETRA_BENCH_DATA=/work/benchdata TETRA_BENCH_SIZE=1m TETRA_BENCH_SHAPE=uniform \
//	    go test -run '^$' -bench . -benchtime 2000x
package sqlite
