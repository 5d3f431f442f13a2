package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/tetrahq/tetra/api"
	"github.com/tetrahq/tetra/exec"
	"github.com/tetrahq/tetra/lang"
)

// TestServedAnswersWhole: POST /api/query served by Serve (which sends an
// answer's bytes with one writev, see gatherWrites) answers exactly the
// document RunJSON writes, with a Content-Length and no other framing, for
// answers smaller than net/http's buffers and larger, several on one
// kept connection, with Go's client and with the benchmarks' lean one.
func TestServedAnswersWhole(t *testing.T) {
	f := newFixture(t, api.Limits{})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- f.srv.Serve(ctx, ln, "", "") }()
	defer func() {
		cancel()
		if err := <-served; err != nil {
			t.Errorf("drain: %v", err)
		}
	}()
	url := "http://" + ln.Addr().String() + "/api/query"
	lean, err := dialLean(url)
	if err != nil {
		t.Fatal(err)
	}
	defer lean.close()
	hc := &http.Client{Timeout: 10 * time.Second}
	defer hc.CloseIdleConnections()
	sizes := map[string]bool{}
	for round := range 3 {
		for _, q := range []string{`name = "orders-db"`, `type = "service"`, `type IN ("pod", "container")`, `name = "*"`} {
			stmt, err := lang.Parse(q)
			if err != nil {
				t.Fatal(err)
			}
			want, err := f.eng.RunJSON(context.Background(), nil, stmt, exec.QueryOptions{}, exec.EncodeOptions{})
			if err != nil {
				t.Fatal(err)
			}
			switch {
			case len(want) < 2<<10:
				sizes["small"] = true
			case len(want) > 8<<10:
				sizes["large"] = true
			}
			body, _ := json.Marshal(api.QueryRequest{Query: q})
			resp, err := hc.Post(url, "application/json", bytes.NewReader(body))
			if err != nil {
				t.Fatal(err)
			}
			got, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			if err != nil || resp.StatusCode != 200 || resp.ContentLength != int64(len(got)) || len(resp.TransferEncoding) > 0 {
				t.Fatalf("round %d, %s: %d, Content-Length %d, Transfer-Encoding %v, %d bytes read (%v)",
					round, q, resp.StatusCode, resp.ContentLength, resp.TransferEncoding, len(got), err)
			}
			if !bytes.Equal(got, want) {
				t.Fatalf("round %d, %s: served\n%s\nRunJSON\n%s", round, q, got, want)
			}
			if err := lean.post(body); err != nil {
				t.Fatalf("round %d, %s: lean client: %v", round, q, err)
			}
			if lc := lean.(*leanClient); !bytes.Equal(lc.body, want) {
				t.Fatalf("round %d, %s: served to the lean client\n%s\nRunJSON\n%s", round, q, lc.body, want)
			}
		}
	}
	if !sizes["small"] || !sizes["large"] {
		t.Fatalf("the answers do not span net/http's buffer sizes: %v", sizes)
	}
}
