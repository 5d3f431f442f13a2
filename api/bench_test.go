package api_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/tetrahq/tetra/api"
	"github.com/tetrahq/tetra/exec"
	"github.com/tetrahq/tetra/internal/benchgraph"
	"github.com/tetrahq/tetra/internal/topogen"
	"github.com/tetrahq/tetra/lang"
)

// The REST benchmarks run POST /api/query over loopback against the
// generated benchmark graph of exec's benchmarks (internal/benchgraph: the
// same size and shape variables, the same stores), served by Server.Serve
// as tetra serve serves it, with 1 and 8 concurrent clients, each with Go's
// http.Client (BenchmarkREST…) and with leanClient (BenchmarkRESTLean…):
//
//	TETRA_BENCH_DATA=/work/benchdata flock /tmp/tetra-bench.lock \
//	  go test ./api -run '^$' -bench 'REST|QueryHandler' -benchtime 5000x   # 100k, local shape
//	TETRA_BENCH_DATA=/work/benchdata TETRA_BENCH_SIZE=1m TETRA_BENCH_SHAPE=uniform \
//	  flock /tmp/tetra-bench.lock go test ./api -run '^$' -bench REST -benchtime 5000x
//
// Each client sends 256 distinct query texts in turn, so the server's
// statement cache holds them all after the warm-up: the figures are of a
// client that repeats its queries (a dashboard, a script), and parsing is
// not among them. cpu-µs/op is the whole process's CPU time per query
// (client, server and collector all run in it). Add -cpuprofile to see
// where one request's time goes.
//
// Set TETRA_BENCH_DATA to the directory exec's benchmarks use: each graph is
// generated once (minutes) and shared.

var (
	benchOnce sync.Once
	benchURL  string
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
		// The floor's fixed answer: the answer of one selective query.
		stmt, err := lang.Parse(fmt.Sprintf(`label = "app:%d"`, benchN/200))
		if err != nil {
			benchErr = err
			return
		}
		fixed, err := eng.RunJSON(context.Background(), nil, stmt, exec.QueryOptions{}, exec.EncodeOptions{})
		if err != nil {
			benchErr = err
			return
		}
		srv.HandleFunc("POST /api/floor", api.RoleRead, srv.FixedAnswer(fixed))
		benchH = srv.Handler()
		// Served as tetra serve serves: Serve's http.Server settings,
		// connection limit and timeouts. It runs until the process ends.
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			benchErr = err
			return
		}
		go srv.Serve(context.Background(), ln, "", "")
		benchURL = "http://" + ln.Addr().String()
	})
	if benchErr != nil {
		b.Fatal(benchErr)
	}
	return benchURL
}

// restLatencies posts queries from `clients` goroutines, each with its own
// keep-alive connection, and reports p50, p99, queries per second and the
// process's CPU time per query (client and server: both run in this
// process). Each client is a dial() of its own: Go's http.Client, or
// leanClient.
func restLatencies(b *testing.B, clients int, dial func(url string) (poster, error), q func(r *rand.Rand) string) {
	restLatenciesAt(b, "/api/query", clients, dial, q)
}

// restLatenciesAt is restLatencies posting to path.
func restLatenciesAt(b *testing.B, path string, clients int, dial func(url string) (poster, error), q func(r *rand.Rand) string) {
	url := benchServer(b) + path
	r := rand.New(rand.NewPCG(7, 7))
	bodies := make([][]byte, 256)
	for i := range bodies {
		bodies[i], _ = json.Marshal(api.QueryRequest{Query: q(r)})
	}
	// Warm up: every query once, then until the heap has settled
	// (benchgraph.Settle).
	warm, err := dial(url)
	if err != nil {
		b.Fatal(err)
	}
	if err := benchgraph.Settle(len(bodies), func(i int) error { return warm.post(bodies[i%len(bodies)]) }); err != nil {
		b.Fatal(err)
	}
	warm.close()
	conns := make([]poster, clients)
	for c := range conns {
		if conns[c], err = dial(url); err != nil {
			b.Fatal(err)
		}
		defer conns[c].close()
	}
	times := make([][]time.Duration, clients)
	var wg sync.WaitGroup
	b.ResetTimer()
	cpu0 := cpuTime()
	start := time.Now()
	for c := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := c; i < b.N; i += clients {
				t0 := time.Now()
				if err := conns[c].post(bodies[i%len(bodies)]); err != nil {
					b.Error(err)
					return
				}
				times[c] = append(times[c], time.Since(t0))
			}
		}()
	}
	wg.Wait()
	elapsed, cpu := time.Since(start), cpuTime()-cpu0
	b.StopTimer()
	all := slices.Concat(times...)
	slices.Sort(all)
	if len(all) == 0 {
		return
	}
	b.ReportMetric(float64(all[len(all)/2].Nanoseconds())/1e3, "p50-µs")
	b.ReportMetric(float64(all[len(all)*99/100].Nanoseconds())/1e3, "p99-µs")
	b.ReportMetric(float64(len(all))/elapsed.Seconds(), "queries/s")
	b.ReportMetric(float64(cpu.Nanoseconds())/1e3/float64(len(all)), "cpu-µs/op")
}

// cpuTime is the CPU time (user and system) this process has used.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// poster is one client connection of the REST benchmarks: it posts a
// query and reads and checks the whole answer.
type poster interface {
	post(body []byte) error
	close()
}

// httpClient is Go's http.Client with one keep-alive connection.
type httpClient struct {
	hc  *http.Client
	url string
}

func dialHTTP(url string) (poster, error) {
	return &httpClient{hc: &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 1}}, url: url}, nil
}

func (c *httpClient) post(body []byte) error {
	resp, err := c.hc.Post(c.url, "application/json", bytes.NewReader(body))
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

func (c *httpClient) close() { c.hc.CloseIdleConnections() }

// leanClient speaks HTTP/1.1 over one TCP connection from the calling
// goroutine, as pgbench speaks PostgreSQL's protocol: each request is one
// write of the request line, headers and body, and the answer is read
// whole (status line, headers, Content-Length bytes of body) from the
// connection's buffer and checked: status 200, a Content-Length, no other
// framing, a body that is one result document. Go's http.Client hands each
// request to a writer goroutine and each answer to a reader goroutine of
// the connection (two wake-ups more per query, which a 2-core machine
// feels); this client measures the server without them. It reads no more
// than answers as Tetra's server sends them, with a Content-Length.
type leanClient struct {
	conn net.Conn
	br   *bufio.Reader
	head []byte // the request line and headers up to the Content-Length value
	req  []byte
	body []byte
}

func dialLean(url string) (poster, error) {
	host, path, _ := strings.Cut(strings.TrimPrefix(url, "http://"), "/")
	conn, err := net.Dial("tcp", host)
	if err != nil {
		return nil, err
	}
	return &leanClient{conn: conn, br: bufio.NewReaderSize(conn, 64<<10),
		head: []byte("POST /" + path + " HTTP/1.1\r\nHost: " + host + "\r\nContent-Type: application/json\r\nContent-Length: ")}, nil
}

func (c *leanClient) post(body []byte) error {
	c.req = append(c.req[:0], c.head...)
	c.req = strconv.AppendInt(c.req, int64(len(body)), 10)
	c.req = append(c.req, "\r\n\r\n"...)
	c.req = append(c.req, body...)
	if _, err := c.conn.Write(c.req); err != nil {
		return err
	}
	status, err := c.br.ReadSlice('\n')
	if err != nil {
		return err
	}
	if !bytes.HasPrefix(status, []byte("HTTP/1.1 200 ")) {
		return fmt.Errorf("status line %q", status)
	}
	length := -1
	for {
		line, err := c.br.ReadSlice('\n')
		if err != nil {
			return err
		}
		line = bytes.TrimRight(line, "\r\n")
		if len(line) == 0 {
			break
		}
		name, value, _ := bytes.Cut(line, []byte(":"))
		switch {
		case bytes.EqualFold(name, []byte("Content-Length")):
			if length, err = strconv.Atoi(string(bytes.TrimSpace(value))); err != nil {
				return fmt.Errorf("Content-Length %q", value)
			}
		case bytes.EqualFold(name, []byte("Transfer-Encoding")), bytes.EqualFold(name, []byte("Connection")):
			return fmt.Errorf("header %q: the benchmark reads answers with a Content-Length on a kept connection", line)
		}
	}
	if length < 0 {
		return errors.New("no Content-Length")
	}
	if cap(c.body) < length {
		c.body = make([]byte, length)
	}
	c.body = c.body[:length]
	if _, err := io.ReadFull(c.br, c.body); err != nil {
		return err
	}
	if !bytes.HasPrefix(c.body, []byte(`{"schemaVersion":1,"topology":{`)) || !bytes.HasSuffix(c.body, []byte("]}}\n")) {
		return fmt.Errorf("not a topology result: %.80q…", c.body)
	}
	return nil
}

func (c *leanClient) close() { c.conn.Close() }

func selective(r *rand.Rand) string { return fmt.Sprintf(`label = "app:%d"`, r.IntN(benchN/100)) }

func neighbours(r *rand.Rand) string {
	return fmt.Sprintf(`withNeighborsOf(components = (name = %q), levels = "2", direction = "both")`, benchGen.Name(r.IntN(benchN)))
}

// (a) a selective filter returning about 100 components, with Go's
// http.Client and with leanClient.
func BenchmarkRESTSelective1(b *testing.B)     { restLatencies(b, 1, dialHTTP, selective) }
func BenchmarkRESTSelective8(b *testing.B)     { restLatencies(b, 8, dialHTTP, selective) }
func BenchmarkRESTLeanSelective1(b *testing.B) { restLatencies(b, 1, dialLean, selective) }
func BenchmarkRESTLeanSelective8(b *testing.B) { restLatencies(b, 8, dialLean, selective) }

// The floor of (a): the same requests, read as POST /api/query reads
// them, through the same server (Serve, every middleware: request ids,
// logs, metrics, auth), answered with the same bytes each time, a
// selective answer of the same size, written as POST /api/query writes
// it, without parsing, planning or running the query. What (a) takes
// beyond it is the query's; what it takes is the stack's: net/http, the
// kernel on both sides of loopback, the client.
func BenchmarkRESTLeanFloor1(b *testing.B) { restLatenciesAt(b, "/api/floor", 1, dialLean, selective) }
func BenchmarkRESTFloor1(b *testing.B)     { restLatenciesAt(b, "/api/floor", 1, dialHTTP, selective) }

// (b) withNeighborsOf, two levels both ways, from one seed.
func BenchmarkRESTNeighbors1(b *testing.B)     { restLatencies(b, 1, dialHTTP, neighbours) }
func BenchmarkRESTNeighbors8(b *testing.B)     { restLatencies(b, 8, dialHTTP, neighbours) }
func BenchmarkRESTLeanNeighbors1(b *testing.B) { restLatencies(b, 1, dialLean, neighbours) }
func BenchmarkRESTLeanNeighbors8(b *testing.B) { restLatencies(b, 8, dialLean, neighbours) }

// BenchmarkQueryHandler runs POST /api/query's handler in process, with
// every middleware but without a connection: the server's own CPU and
// allocations per request, which the loopback figures above add the
// network and the client's work to (and which a loaded machine disturbs
// less). Floor is the floor benchmarks' route the same way: the
// middleware and the body's read alone, so that the loopback floor less
// it is the connection's share (net/http, the kernel, the client).
func BenchmarkQueryHandler(b *testing.B) {
	for _, c := range []struct {
		name, path string
		q          func(r *rand.Rand) string
	}{{"Selective", "/api/query", selective}, {"Neighbors", "/api/query", neighbours}, {"Floor", "/api/floor", selective}} {
		b.Run(c.name, func(b *testing.B) {
			benchServer(b)
			r := rand.New(rand.NewPCG(7, 7))
			bodies := make([][]byte, 256)
			for i := range bodies {
				bodies[i], _ = json.Marshal(api.QueryRequest{Query: c.q(r)})
			}
			w := &discardWriter{h: http.Header{}}
			serve := func(i int) error {
				req := httptest.NewRequest("POST", c.path, bytes.NewReader(bodies[i%len(bodies)]))
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
