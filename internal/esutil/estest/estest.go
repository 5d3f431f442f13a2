// Package estest serves recorded Elasticsearch answers over an httptest
// server, for the tests of the Elasticsearch stores.
package estest

import (
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/tetrahq/tetra/internal/esutil"
)

// Answer is one recorded answer: a status and a JSON body.
type Answer struct {
	Status int
	Body   string
}

// Server answers requests with its answers, in order, and keeps the
// requests ("METHOD /path?query\nbody").
type Server struct {
	t        testing.TB
	mu       sync.Mutex
	answers  []Answer
	requests []string
}

func (f *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	body, _ := io.ReadAll(r.Body)
	f.requests = append(f.requests, r.Method+" "+r.URL.Path+"?"+r.URL.RawQuery+"\n"+string(body))
	if len(f.answers) == 0 {
		f.t.Errorf("unexpected request %s %s", r.Method, r.URL)
		w.WriteHeader(http.StatusInternalServerError)
		return
	}
	a := f.answers[0]
	f.answers = f.answers[1:]
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Elastic-Product", "Elasticsearch")
	w.WriteHeader(a.Status)
	io.WriteString(w, a.Body)
}

// Requests returns the requests received so far.
func (f *Server) Requests() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.requests...)
}

// New starts a server with the answers and returns a client of it that
// retries at once.
func New(t testing.TB, answers ...Answer) (*esutil.Client, *Server) {
	f := &Server{t: t, answers: answers}
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	c, err := esutil.New(esutil.Options{URL: srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	c.Backoff = func(int) time.Duration { return 0 }
	return c, f
}
