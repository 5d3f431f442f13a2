package live

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/tetrahq/tetra/api"
	"github.com/tetrahq/tetra/exec"
	"github.com/tetrahq/tetra/graphstore"
	"github.com/tetrahq/tetra/graphstore/pebblestore"
	"github.com/tetrahq/tetra/internal/topogen"
)

// BenchmarkLiveSubscribers is the live-query figure of the server issue:
// 1,000 WebSocket subscribers (one connection each) over 50 distinct
// queries, through the real API server on loopback, on a generated
// topology of 100,000 components and 300,000 relations (Pebble, synced
// commits), with a steady stream of 100 committed changes a second. It
// reports the latency from a commit's return to the client reading the
// diff that commit caused (p50, p99), and the CPU time per change with the
// subscribers, minus the same commits' CPU time without them.
//
//	TETRA_BENCH_DATA=/work/benchdata/live-100k flock /tmp/tetra-bench.lock \
//	  go test ./api/live -run '^$' -bench LiveSubscribers -benchtime 1x -timeout 30m
//
// The graph is generated once into TETRA_BENCH_DATA (a minute or two) and
// copied for each run, which then writes to the copy. TETRA_LIVE_SECONDS
// sets the measured window (30 s); TETRA_LIVE_SMOKE=1 runs the same code
// on 2,000 components with 100 subscribers for 2 s, to check it works
// (not a measurement). The 50 queries: 25 neighbourhoods
// (withNeighborsOf levels 2, both directions, one seed), 10 selective
// filters (one app label, ~100 components), 5 negations within an app, 5
// downward neighbourhoods of a whole app, and 5 broad filters (a type in
// one environment, ~1,700 components). The changes: 60% re-version a
// uniformly random component (mostly far from every answer), 25%
// re-version a component of some answer, 10% move a relation of a
// component of some answer, 5% add a component with three relations.
func BenchmarkLiveSubscribers(b *testing.B) {
	for range b.N {
		runLiveBench(b)
	}
}

var benchSubscribers = 1000

const benchRate = 100 // commits per second

var liveBenchCfg = topogen.Config{Components: 100_000, RelationsPer: 3, BatchSize: 10_000, Seed: 1,
	End: time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)}

func runLiveBench(b *testing.B) {
	seconds := 30
	if s, err := strconv.Atoi(os.Getenv("TETRA_LIVE_SECONDS")); err == nil && s > 0 {
		seconds = s
	}
	if os.Getenv("TETRA_LIVE_SMOKE") != "" {
		liveBenchCfg.Components, benchSubscribers, seconds = 2000, 100, 2
	}
	dir := b.TempDir()
	if err := copyDir(benchData(b), dir); err != nil {
		b.Fatal(err)
	}
	st, err := pebblestore.Open(dir, pebblestore.Options{Retention: 400 * 24 * time.Hour, NoSync: true})
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	lb := &liveBench{b: b, st: st, r: rand.New(rand.NewPCG(7, 7)), next: liveBenchCfg.Components, wall: map[int64]time.Time{},
		touched: map[uint64][]int64{}, version: map[int]int{}, gone: map[string]bool{}}
	hub, base, stop := lb.serve()
	queries := lb.queries()
	b.Logf("%d subscribers over %d queries; connecting", benchSubscribers, len(queries))
	conns := lb.connect(base, queries)
	go lb.follow()
	lb.run(3 * time.Second) // warm up
	lb.reset()
	cpu0, n0 := cpuTime(), lb.commits
	lb.run(time.Duration(seconds) * time.Second)
	cpu, n := cpuTime()-cpu0, lb.commits-n0
	lat, unattributed, msgs := lb.latencies()
	for _, c := range conns {
		c.Close()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	hub.Close(ctx)
	cancel()
	stop()
	// The same commits with nobody subscribed: what the store costs alone.
	cpuB0, nB0 := cpuTime(), lb.commits
	lb.run(time.Duration(seconds/2) * time.Second)
	cpuBase, nBase := cpuTime()-cpuB0, lb.commits-nB0
	lb.report(seconds, n, cpu, nBase, cpuBase, lat, unattributed, msgs)
}

// benchData returns the generated topology's directory, generating it
// when it is missing or was made with another configuration.
func benchData(b *testing.B) string {
	dir := os.Getenv("TETRA_BENCH_DATA")
	if dir == "" {
		dir = filepath.Join(b.TempDir(), "gen")
	}
	marker := filepath.Join(dir, "live-topogen.json")
	want, _ := json.Marshal(liveBenchCfg)
	if have, err := os.ReadFile(marker); err == nil && string(have) == string(want) {
		return dir
	}
	os.RemoveAll(dir)
	b.Logf("generating %d components into %s …", liveBenchCfg.Components, dir)
	st, err := pebblestore.Open(dir, pebblestore.Options{Now: func() time.Time { return liveBenchCfg.End }, NoSync: true})
	if err != nil {
		b.Fatal(err)
	}
	if _, err := topogen.New(liveBenchCfg).Load(context.Background(), st); err != nil {
		b.Fatal(err)
	}
	if err := st.Close(); err != nil {
		b.Fatal(err)
	}
	if err := os.WriteFile(marker, want, 0o644); err != nil {
		b.Fatal(err)
	}
	return dir
}

func copyDir(from, to string) error {
	return filepath.WalkDir(from, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(from, path)
		src, err := os.Open(path)
		if err != nil {
			return err
		}
		defer src.Close()
		dst, err := os.Create(filepath.Join(to, rel))
		if err != nil {
			return err
		}
		if _, err := io.Copy(dst, src); err != nil {
			dst.Close()
			return err
		}
		return dst.Close()
	})
}

// liveBench is the state of one run.
type liveBench struct {
	b       *testing.B
	st      *pebblestore.Store
	r       *rand.Rand
	next    int         // next new component's index
	version map[int]int // component index → versions written
	gone    map[string]bool
	members [][]int // per query, the component indexes of its first answer
	commits int
	rels    int // relations added

	mu      sync.Mutex
	wall    map[int64]time.Time // commit time → when Apply returned
	touched map[uint64][]int64  // element id → commit times that changed it (ascending)
	samples []sample
	msgs    int
}

// sample is one diff as a client read it.
type sample struct {
	at       time.Time
	from, to int64
	ids      []uint64
}

func (lb *liveBench) serve() (*Hub, string, func()) {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	eng := exec.New(lb.st, exec.Options{})
	srv := api.New(api.Config{Engine: eng, Logger: log,
		Limits: api.Limits{MaxConnections: 4 * benchSubscribers, MaxSubscriptionsPerKey: 2 * benchSubscribers}})
	hub, err := New(Config{Engine: eng, Store: lb.st, Logger: log, Registerer: srv.Registry()})
	if err != nil {
		lb.b.Fatal(err)
	}
	hub.Mount(srv)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		lb.b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		srv.Serve(ctx, ln, "", "")
	}()
	return hub, "ws://" + ln.Addr().String() + "/api/subscribe", func() { cancel(); <-done }
}

// queries returns the 50 distinct queries.
func (lb *liveBench) queries() []string {
	n := liveBenchCfg.Components
	apps := n / 100
	var q []string
	for range 25 {
		q = append(q, fmt.Sprintf(`withNeighborsOf(components = (name = "c-%d"), levels = "2")`, lb.r.IntN(n)))
	}
	for range 10 {
		q = append(q, fmt.Sprintf(`label = "app:%d"`, lb.r.IntN(apps)))
	}
	for range 5 {
		q = append(q, fmt.Sprintf(`label = "app:%d" AND NOT healthstate = "CLEAR"`, lb.r.IntN(apps)))
	}
	for range 5 {
		q = append(q, fmt.Sprintf(`withNeighborsOf(components = (label = "app:%d"), levels = "1", direction = "down")`, lb.r.IntN(apps)))
	}
	types := []string{"service", "pod", "container", "host", "database"}
	envs := []string{"Production", "Staging", "Development"}
	for i := range 5 {
		q = append(q, fmt.Sprintf(`type = %q AND environment = %q`, types[i], envs[i%3]))
	}
	return q
}

// benchMsg is what a benchmark client decodes of a message.
type benchMsg struct {
	Type   string `json:"type"`
	From   Seq    `json:"from"`
	Seq    Seq    `json:"seq"`
	Result *struct {
		Topology struct {
			Components []struct {
				Name string `json:"name"`
			} `json:"components"`
		} `json:"topology"`
	} `json:"result"`
	Added   benchElements `json:"added"`
	Removed struct {
		Components []uint64 `json:"components"`
		Relations  []uint64 `json:"relations"`
	} `json:"removed"`
	Changed benchElements `json:"changed"`
	Error   *api.Error    `json:"error"`
}

type benchElements struct {
	Components []struct {
		ID uint64 `json:"id"`
	} `json:"components"`
	Relations []struct {
		ID uint64 `json:"id"`
	} `json:"relations"`
}

func (m *benchMsg) ids() []uint64 {
	var out []uint64
	for _, l := range [][]struct {
		ID uint64 `json:"id"`
	}{m.Added.Components, m.Added.Relations, m.Changed.Components, m.Changed.Relations} {
		for _, x := range l {
			out = append(out, x.ID)
		}
	}
	out = append(out, m.Removed.Components...)
	return append(out, m.Removed.Relations...)
}

// connect opens one connection per subscriber, subscribes it, waits for
// every first answer and starts a reader per connection.
func (lb *liveBench) connect(url string, queries []string) []*websocket.Conn {
	lb.members = make([][]int, len(queries))
	conns := make([]*websocket.Conn, benchSubscribers)
	for i := range conns {
		ws, _, err := websocket.DefaultDialer.Dial(url, nil)
		if err != nil {
			lb.b.Fatalf("subscriber %d: %v", i, err)
		}
		q := i % len(queries)
		ws.WriteJSON(map[string]string{"type": "subscribe", "id": strconv.Itoa(q), "query": queries[q]})
		conns[i] = ws
	}
	for i, ws := range conns {
		var m benchMsg
		if err := ws.ReadJSON(&m); err != nil || m.Type != "result" {
			lb.b.Fatalf("subscriber %d's first message: %v %+v", i, err, m.Error)
		}
		q := i % len(queries)
		if lb.members[q] == nil {
			for _, c := range m.Result.Topology.Components {
				k, _ := strconv.Atoi(strings.TrimPrefix(c.Name, "c-"))
				lb.members[q] = append(lb.members[q], k)
			}
		}
		go lb.read(ws)
	}
	return conns
}

func (lb *liveBench) read(ws *websocket.Conn) {
	for {
		_, data, err := ws.ReadMessage()
		if err != nil {
			return
		}
		at := time.Now()
		var m benchMsg
		if json.Unmarshal(data, &m) != nil || m.Type != "diff" {
			continue
		}
		lb.mu.Lock()
		lb.samples = append(lb.samples, sample{at: at, from: int64(m.From), to: int64(m.Seq), ids: m.ids()})
		lb.msgs++
		lb.mu.Unlock()
	}
}

// follow reads the store's change feed to learn which elements each
// commit changed.
func (lb *liveBench) follow() {
	feed, err := lb.st.Subscribe(lb.st.LastCommit())
	if err != nil {
		return
	}
	defer feed.Close()
	for {
		ev, err := feed.Next(context.Background())
		if err != nil {
			return
		}
		lb.mu.Lock()
		for _, ch := range ev.Changes {
			lb.touched[uint64(ch.ID)] = append(lb.touched[uint64(ch.ID)], ev.Time.UnixNano())
		}
		lb.mu.Unlock()
	}
}

// run commits changes at benchRate for d.
func (lb *liveBench) run(d time.Duration) {
	tick := time.NewTicker(time.Second / benchRate)
	defer tick.Stop()
	end := time.Now().Add(d)
	for time.Now().Before(end) {
		<-tick.C
		c, err := lb.st.Apply(context.Background(), lb.change())
		if err != nil {
			lb.b.Fatal(err)
		}
		lb.mu.Lock()
		lb.wall[c.Time.UnixNano()] = time.Now()
		lb.mu.Unlock()
		lb.commits++
	}
}

// change returns the next commit's batch.
func (lb *liveBench) change() *graphstore.Batch {
	b := &graphstore.Batch{}
	n := lb.r.IntN(100)
	switch {
	case n < 60:
		lb.reversion(b, lb.r.IntN(liveBenchCfg.Components))
	case n < 85:
		lb.reversion(b, lb.member())
	case n < 95:
		i := lb.member()
		old := fmt.Sprintf("r-%d", 3*i+lb.r.IntN(3))
		if !lb.gone[old] {
			b.DeleteRelation(topogen.Source, old)
			lb.gone[old] = true
		}
		lb.relate(b, i)
	default:
		i := lb.next
		lb.next++
		b.PutComponent(topogen.Source, fmt.Sprint("c-", i), topogen.Component(i, 0, lb.r))
		for range 3 {
			lb.relate(b, i)
		}
	}
	return b
}

func (lb *liveBench) member() int {
	m := lb.members[lb.r.IntN(len(lb.members))]
	if len(m) == 0 {
		return lb.r.IntN(liveBenchCfg.Components)
	}
	return m[lb.r.IntN(len(m))]
}

func (lb *liveBench) reversion(b *graphstore.Batch, i int) {
	lb.version[i]++
	b.PutComponent(topogen.Source, fmt.Sprint("c-", i), topogen.Component(i, lb.version[i], lb.r))
}

// relate adds a relation from component i to one near it, as topogen's.
func (lb *liveBench) relate(b *graphstore.Batch, i int) {
	to := max(0, i+lb.r.IntN(2001)-1000)
	lb.rels++
	b.PutRelation(topogen.Source, fmt.Sprintf("bench-r-%d", lb.rels),
		graphstore.RelationData{Type: "depends_on", SourceRef: fmt.Sprint("c-", i), TargetRef: fmt.Sprint("c-", to)})
}

// reset forgets the samples of the warm-up.
func (lb *liveBench) reset() {
	lb.mu.Lock()
	defer lb.mu.Unlock()
	lb.samples, lb.msgs = nil, 0
}

// latencies attributes each diff to the earliest commit in (from, seq]
// that changed one of its elements, and returns the delays from that
// commit's return to the diff's arrival, sorted.
func (lb *liveBench) latencies() (lat []time.Duration, unattributed, msgs int) {
	time.Sleep(500 * time.Millisecond) // the last diffs in flight
	lb.mu.Lock()
	defer lb.mu.Unlock()
	for _, s := range lb.samples {
		first := int64(-1)
		for _, id := range s.ids {
			ts := lb.touched[id]
			k, _ := slices.BinarySearch(ts, s.from+1)
			if k < len(ts) && ts[k] <= s.to && (first < 0 || ts[k] < first) {
				first = ts[k]
			}
		}
		w, ok := lb.wall[first]
		if first < 0 || !ok {
			unattributed++
			continue
		}
		lat = append(lat, s.at.Sub(w))
	}
	slices.Sort(lat)
	return lat, unattributed, lb.msgs
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func pct(l []time.Duration, p float64) time.Duration {
	if len(l) == 0 {
		return 0
	}
	return l[min(len(l)-1, int(float64(len(l))*p))]
}

func (lb *liveBench) report(seconds, n int, cpu time.Duration, nBase int, cpuBase time.Duration, lat []time.Duration, unattributed, msgs int) {
	perChange := cpu / time.Duration(max(n, 1))
	basePer := cpuBase / time.Duration(max(nBase, 1))
	lb.b.ReportMetric(float64(pct(lat, 0.5).Microseconds())/1000, "p50-ms")
	lb.b.ReportMetric(float64(pct(lat, 0.99).Microseconds())/1000, "p99-ms")
	lb.b.ReportMetric(float64(perChange.Microseconds())/1000, "cpu-ms/change")
	lb.b.ReportMetric(float64((perChange-basePer).Microseconds())/1000, "live-cpu-ms/change")
	lb.b.Logf("%d commits in %d s (%.0f/s); %d diffs read by clients, %d timed, %d not attributable",
		n, seconds, float64(n)/float64(seconds), msgs, len(lat), unattributed)
	lb.b.Logf("commit → diff read: p50 %s, p90 %s, p99 %s, max %s", pct(lat, 0.5), pct(lat, 0.9), pct(lat, 0.99), pct(lat, 1))
	lb.b.Logf("CPU per change: %s with %d subscribers, %s without (the store alone), so %s for live subscriptions (clients' decoding included)",
		perChange, benchSubscribers, basePer, perChange-basePer)
	lb.b.Logf("peak RSS %.0f MiB", peakRSSMiB())
}

func peakRSSMiB() float64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, _ := strconv.ParseFloat(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 64)
			return kb / 1024
		}
	}
	return 0
}
