package api_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/tetrahq/tetra/api"
	"github.com/tetrahq/tetra/exec"
	"github.com/tetrahq/tetra/internal/benchgraph"
	"github.com/tetrahq/tetra/internal/topogen"
)

// The REST benchmarks run POST /api/query over loopback against the
// generated benchmark graph of exec's benchmarks (internal/benchgraph: the
// same size and shape variables, the same stores), with 1 and 8 concurrent
// clients:
//
//	TETRA_BENCH_DATA=/work/benchdata flock /tmp/tetra-bench.lock \
//	  go test ./api -run '^$' -bench REST -benchtime 5000x                # 100k, local shape
//	TETRA_BENCH_DATA=/work/benchdata TETRA_BENCH_SIZE=1m TETRA_BENCH_SHAPE=uniform \
//	  flock /tmp/tetra-bench.lock go test ./api -run '^$' -bench REST -benchtime 5000x
//
// Each client sends 256 distinct query texts in turn, so the server's
// statement cache holds them all after the warm-up: the figures are of a
// client that repeats its queries (a dashboard, a script), and parsing is
// not among them. Add -cpuprofile to see where one request's time goes.
//
// Set TETRA_BENCH_DATA to the directory exec's benchmarks use: each graph is
// generated once (minutes) and shared.

var (
	benchOnce sync.Once
	benchSrv  *httptest.Server
	benchH    http.Handler
	benchGen  *topogen.Generator
	benchN    int
	benchErr  error
)

// benchServer opens (or generates) the benchmark store and serves it.
func benchServer(b *testing.B) string {
	benchOnce.Do(func() {
		cfg, err := benchgraph.Config(os.Getenv("TETRA_BENCH_SIZE"), os.Getenv("TETRA_BENCH_SHAPE"), os.Getenv("TETRA_BENCH_HOURS"))
		if err != nil {
			benchErr = err
			return
		}
		g, err := benchgraph.Open(os.Getenv("TETRA_BENCH_DATA"), cfg)
		if err != nil {
			benchErr = err
			return
		}
		benchGen, benchN = g.Gen, cfg.Components
		eng := exec.New(g.Store, exec.Options{Now: benchgraph.Now, MaxElements: 50_000, Timeout: time.Minute})
		srv := api.New(api.Config{Engine: eng, Now: benchgraph.Now, Limits: api.Limits{MaxElements: 50_000, QueryTimeout: time.Minute},
			Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
		benchH = srv.Handler()
		benchSrv = httptest.NewServer(benchH)
	})
	if benchErr != nil {
		b.Fatal(benchErr)
	}
	return benchSrv.URL
}

// restLatencies posts queries from `clients` goroutines, each with its own
// keep-alive connection, and reports p50, p99 and queries per second.
func restLatencies(b *testing.B, clients int, q func(r *rand.Rand) string) {
	url := benchServer(b) + "/api/query"
	r := rand.New(rand.NewPCG(7, 7))
	bodies := make([][]byte, 256)
	for i := range bodies {
		bodies[i], _ = json.Marshal(api.QueryRequest{Query: q(r)})
	}
	post := func(hc *http.Client, body []byte) error {
		resp, err := hc.Post(url, "application/json", bytes.NewReader(body))
		if err != nil {
			return err
		}
		_, err = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			return fmt.Errorf("status %d", resp.StatusCode)
		}
		return err
	}
	// Warm up: every query once, then until the heap has settled
	// (benchgraph.Settle).
	warm := &http.Client{}
	if err := benchgraph.Settle(len(bodies), func(i int) error { return post(warm, bodies[i%len(bodies)]) }); err != nil {
		b.Fatal(err)
	}
	times := make([][]time.Duration, clients)
	var wg sync.WaitGroup
	b.ResetTimer()
	start := time.Now()
	for c := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 1}}
			for i := c; i < b.N; i += clients {
				t0 := time.Now()
				if err := post(hc, bodies[i%len(bodies)]); err != nil {
					b.Error(err)
					return
				}
				times[c] = append(times[c], time.Since(t0))
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	b.StopTimer()
	all := slices.Concat(times...)
	slices.Sort(all)
	if len(all) == 0 {
		return
	}
	b.ReportMetric(float64(all[len(all)/2].Nanoseconds())/1e3, "p50-µs")
	b.ReportMetric(float64(all[len(all)*99/100].Nanoseconds())/1e3, "p99-µs")
	b.ReportMetric(float64(len(all))/elapsed.Seconds(), "queries/s")
}

func selective(r *rand.Rand) string { return fmt.Sprintf(`label = "app:%d"`, r.IntN(benchN/100)) }

func neighbours(r *rand.Rand) string {
	return fmt.Sprintf(`withNeighborsOf(components = (name = %q), levels = "2", direction = "both")`, benchGen.Name(r.IntN(benchN)))
}

// (a) a selective filter returning about 100 components.
func BenchmarkRESTSelective1(b *testing.B) { restLatencies(b, 1, selective) }
func BenchmarkRESTSelective8(b *testing.B) { restLatencies(b, 8, selective) }

// (b) withNeighborsOf, two levels both ways, from one seed.
func BenchmarkRESTNeighbors1(b *testing.B) { restLatencies(b, 1, neighbours) }
func BenchmarkRESTNeighbors8(b *testing.B) { restLatencies(b, 8, neighbours) }

// BenchmarkQueryHandler runs POST /api/query's handler in process, with
// every middleware but without a connection: the server's own CPU and
// allocations per request, which the loopback figures above add the
// network and the client's work to (and which a loaded machine disturbs
// less).
func BenchmarkQueryHandler(b *testing.B) {
	for _, c := range []struct {
		name string
		q    func(r *rand.Rand) string
	}{{"Selective", selective}, {"Neighbors", neighbours}} {
		b.Run(c.name, func(b *testing.B) {
			benchServer(b)
			r := rand.New(rand.NewPCG(7, 7))
			bodies := make([][]byte, 256)
			for i := range bodies {
				bodies[i], _ = json.Marshal(api.QueryRequest{Query: c.q(r)})
			}
			w := &discardWriter{h: http.Header{}}
			serve := func(i int) error {
				req := httptest.NewRequest("POST", "/api/query", bytes.NewReader(bodies[i%len(bodies)]))
				req.Header.Set("Content-Type", "application/json")
				clear(w.h)
				w.status = 0
				benchH.ServeHTTP(w, req)
				if w.status != http.StatusOK {
					return fmt.Errorf("status %d", w.status)
				}
				return nil
			}
			if err := benchgraph.Settle(len(bodies), serve); err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			b.ResetTimer()
			for i := range b.N {
				if err := serve(i); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// discardWriter is an http.ResponseWriter that keeps only the status.
type discardWriter struct {
	h      http.Header
	status int
}

func (w *discardWriter) Header() http.Header { return w.h }
func (w *discardWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
}

func (w *discardWriter) Write(b []byte) (int, error) {
	w.WriteHeader(http.StatusOK)
	return len(b), nil
}
