package demo

import (
	"compress/gzip"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/tetrahq/tetra/ingest"
)

// receiver is a stand-in for the server's intake endpoint: it checks
// each request as the receiver would see it, decodes the body with
// ingest's decoder, and can be told to refuse requests.
type receiver struct {
	t      *testing.T
	mu     sync.Mutex
	refuse bool
	// topologies counts the topologies received per instance source.
	topologies map[string]int
	requests   int
}

func (rc *receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	rc.requests++
	if r.URL.Path != IntakePath || r.Method != http.MethodPost || r.Header.Get("sts-api-key") != "k1" ||
		r.Header.Get("Content-Encoding") != "gzip" {
		rc.t.Errorf("%s %s with key %q, encoding %q", r.Method, r.URL.Path, r.Header.Get("sts-api-key"), r.Header.Get("Content-Encoding"))
	}
	if rc.refuse {
		http.Error(w, `{"error": "busy"}`, http.StatusServiceUnavailable)
		return
	}
	zr, err := gzip.NewReader(r.Body)
	if err != nil {
		rc.t.Errorf("body is not gzip: %v", err)
		return
	}
	b, _ := io.ReadAll(zr)
	topos, err := ingest.Decoder{}.DecodeBytes(b)
	if err != nil {
		rc.t.Errorf("payload does not decode: %v", err)
	}
	for _, tp := range topos {
		rc.topologies[tp.Source]++
	}
	w.WriteHeader(http.StatusAccepted)
}

func (rc *receiver) count(source string) int {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return rc.topologies[source]
}

func (rc *receiver) setRefuse(v bool) {
	rc.mu.Lock()
	rc.refuse = v
	rc.mu.Unlock()
}

// TestRunner: reports reach the receiver over HTTP; an unchanged topology
// is sent once, and sent again whole after a refused report.
func TestRunner(t *testing.T) {
	rc := &receiver{t: t, topologies: map[string]int{}}
	srv := httptest.NewServer(rc)
	defer srv.Close()

	rounds := make(chan error, 100)
	r := &Runner{Sim: New(Config{Seed: 1, Speed: 1}, time.Now()), Target: Target{URL: srv.URL, Key: "k1"},
		Interval: 20 * time.Millisecond}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		r.Run(ctx, func(_ int, err error) { rounds <- err })
	}()
	defer func() { cancel(); <-done }()
	wait := func(n int, wantErr bool) {
		t.Helper()
		for i := 0; i < n; i++ {
			select {
			case err := <-rounds:
				if (err != nil) != wantErr {
					t.Fatalf("round error %v, want an error: %v", err, wantErr)
				}
			case <-time.After(30 * time.Second):
				t.Fatal("no round within 30s")
			}
		}
	}
	wait(5, false)
	// The agent's topology never changes: sent once.
	if n := rc.count("agent:integrations"); n != 1 {
		t.Fatalf("the agents' topology was sent %d times in 5 rounds, want once", n)
	}
	rc.setRefuse(true)
	wait(2, true)
	rc.setRefuse(false)
	// A round begun before the receiver recovered may still fail: wait for
	// the first that succeeds.
	for err := error(nil); ; {
		select {
		case err = <-rounds:
		case <-time.After(30 * time.Second):
			t.Fatal("no round within 30s")
		}
		if err == nil {
			break
		}
	}
	if n := rc.count("agent:integrations"); n != 2 {
		t.Fatalf("after a refused report the agents' topology was sent %d times in all, want twice", n)
	}
}
