package receiver_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tetrahq/tetra/graphstore"
	"github.com/tetrahq/tetra/graphstore/pebblestore"
	"github.com/tetrahq/tetra/ingest"
)

// TestConcurrentSources: many agents at once, each sending snapshots split
// over several requests (as the agent's batcher does), round after round.
// The one writer commits them in groups; each source ends with exactly its
// last round's elements, and nothing of another source is touched.
func TestConcurrentSources(t *testing.T) {
	s := newServer(t, serverOpts{})
	const sources, rounds, perRound = 8, 6, 4
	var wg sync.WaitGroup
	errs := make(chan error, sources)
	for src := range sources {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for round := range rounds {
				for i := range perRound {
					ext := fmt.Sprintf("s%d-r%d-e%d", src, round, i)
					body := fmt.Sprintf(`{"topologies":[{"instance":{"type":"agent","url":"src-%d"},"start_snapshot":%t,"stop_snapshot":%t,
						"components":[{"externalId":%q,"type":{"name":"load"},"data":{"name":%q}}]}]}`, src, i == 0, i == perRound-1, ext, ext)
					if r := s.post(request{key: "agent", body: []byte(body)}); r.status != 202 {
						errs <- fmt.Errorf("source %d round %d request %d: %d %s", src, round, i, r.status, r.body)
						return
					}
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	got := s.query(`type = "load"`)
	var want []string
	for src := range sources {
		for i := range perRound {
			ext := fmt.Sprintf("s%d-r%d-e%d", src, rounds-1, i)
			want = append(want, fmt.Sprintf(`component %q type="load" layer="" domain="" env=[] ids=[%q] labels=[] sources=agent:src-%d/%s`, ext, ext, src, ext))
		}
	}
	if w := strings.Join(want, "\n") + "\n"; got != w {
		t.Fatalf("after the rounds:\n%s\nwant:\n%s", got, w)
	}
	st := s.pipe.Stats()
	if n := st.Records.Load(); n != sources*rounds*perRound {
		t.Errorf("%d records committed, want %d", n, sources*rounds*perRound)
	}
	t.Logf("%d records in %d group commits", st.Records.Load(), st.Groups.Load())
}

// blockingStore holds every Apply until released, so that a test can fill
// the queue behind it.
type blockingStore struct {
	*pebblestore.Store
	entered chan struct{}
	release chan struct{}
}

func (b *blockingStore) Apply(ctx context.Context, batch *graphstore.Batch) (*graphstore.Commit, error) {
	select {
	case b.entered <- struct{}{}:
	default:
	}
	<-b.release
	return b.Store.Apply(ctx, batch)
}

// TestBackPressure: when the writer falls behind, a full queue makes the
// receiver wait, then answer 429 with Retry-After, taking nothing; what
// was queued is committed once the writer catches up. A receiver whose log
// is closing answers 503 with Retry-After.
func TestBackPressure(t *testing.T) {
	bs := &blockingStore{entered: make(chan struct{}, 1), release: make(chan struct{})}
	s := newServer(t, serverOpts{
		store:    func(st *pebblestore.Store) graphstore.Store { bs.Store = st; return bs },
		pipeline: ingest.PipelineOptions{QueueLen: 2, AdmitWait: 50 * time.Millisecond, RetryAfter: 2 * time.Second},
	})
	body := func(ext string) []byte {
		return []byte(fmt.Sprintf(`{"topologies":[{"instance":{"type":"a","url":"b"},"components":[{"externalId":%q,"type":{"name":"bp"},"data":{"name":%q}}]}]}`, ext, ext))
	}
	statuses := make(chan int, 3)
	post := func(ext string) {
		go func() { statuses <- s.post(request{key: "agent", body: body(ext)}).status }()
	}
	post("first")
	<-bs.entered // the writer holds the first record in its commit
	post("second")
	post("third")
	waitFor(t, func() bool { return s.pipe.QueueDepth() == 2 })
	r := s.post(request{key: "agent", body: body("turned-away")})
	if r.status != 429 || r.header.Get("Retry-After") != "2" {
		t.Fatalf("with a full queue: %d Retry-After=%q %s", r.status, r.header.Get("Retry-After"), r.body)
	}
	close(bs.release)
	for range 3 {
		if st := <-statuses; st != 202 {
			t.Errorf("a queued request got %d", st)
		}
	}
	if got, want := s.query(`type = "bp"`), strings.Join([]string{
		`component "first" type="bp" layer="" domain="" env=[] ids=["first"] labels=[] sources=a:b/first`,
		`component "second" type="bp" layer="" domain="" env=[] ids=["second"] labels=[] sources=a:b/second`,
		`component "third" type="bp" layer="" domain="" env=[] ids=["third"] labels=[] sources=a:b/third`}, "\n")+"\n"; got != want {
		t.Errorf("after the writer caught up:\n%s\nwant:\n%s", got, want)
	}
	s.pipe.Close()
	r = s.post(request{key: "agent", body: body("late")})
	if r.status != 503 || r.header.Get("Retry-After") == "" {
		t.Fatalf("with the log closed: %d Retry-After=%q %s", r.status, r.header.Get("Retry-After"), r.body)
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("timed out waiting")
		}
		time.Sleep(time.Millisecond)
	}
}

// TestSelfMetrics: what the receiver did shows in /metrics.
func TestSelfMetrics(t *testing.T) {
	s := newServer(t, serverOpts{})
	ok := `{"topologies":[{"instance":{"type":"a","url":"b"},"components":[{"externalId":"x","type":{"name":"t"}},{"externalId":"x","type":{"name":"t"}}],
		"relations":[{"externalId":"r","type":{"name":"t"},"sourceId":"x","targetId":"x"}],"delete_ids":["gone"]}]}`
	for _, body := range []string{ok, ok, `{"topologies": 1}`} {
		s.post(request{key: "agent", body: []byte(body), encoding: "gzip"})
	}
	req, _ := http.NewRequest("GET", s.hs.URL+"/metrics", nil)
	req.Header.Set("X-API-Key", s.token["reader"])
	r := s.do(req)
	if r.status != 200 {
		t.Fatalf("GET /metrics: %d", r.status)
	}
	for _, want := range []string{
		`tetra_ingest_requests_total{outcome="accepted"} 2`,
		`tetra_ingest_requests_total{outcome="bad_request"} 1`,
		`tetra_ingest_elements_total{kind="component"} 4`,
		`tetra_ingest_elements_total{kind="relation"} 2`,
		`tetra_ingest_elements_total{kind="delete"} 2`,
		`tetra_ingest_warnings_total 2`,
		`tetra_ingest_records_total{outcome="committed"} 2`,
		`tetra_ingest_queue_depth 0`,
		`tetra_ingest_append_seconds_count 2`,
	} {
		if !strings.Contains(string(r.body), want+"\n") {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	if !strings.Contains(string(r.body), "tetra_ingest_group_commits_total ") || !strings.Contains(string(r.body), "tetra_ingest_body_bytes_total ") {
		t.Error("/metrics lacks the group commits or body bytes")
	}
}
