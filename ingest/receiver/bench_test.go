package receiver_test

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/tetrahq/tetra/internal/topogen"
)

// Benchmarks of the embedded path end to end: real HTTP, the receiver,
// the pipeline's group commit and Pebble with synced commits on disk.
// Re-run with
//
//	flock /tmp/tetra-bench.lock go test -run '^$' -bench . -benchtime 20000x ./ingest/receiver/
//
// BenchmarkIntake reports elements/s: each op is one POST of a payload of
// 100 components and 100 relations from one of 8 agents (its own source),
// sent by 8 clients at once, each keeping its connection alive as an agent
// does (agentClient); sources and external ids are spread over the
// whole run, so nothing is helped by locality (every op writes new
// elements). BenchmarkFreshness reports p50/p99 of receive → visible, to a
// query (the 202 comes after the commit, so the next query sees it) and to
// a live subscription (the diff arrives on its WebSocket).

func BenchmarkIntake(b *testing.B) {
	s := newServer(b, serverOpts{sync: true})
	defer s.stop()
	const clients, perPayload = 8, 100
	payloads := make([][]byte, 64) // generated up front: the benchmark measures the server
	for i := range payloads {
		payloads[i] = topogen.IntakePayload(i%clients, i, perPayload)
	}
	var next atomic.Int64
	b.SetBytes(int64(len(payloads[0])))
	b.ResetTimer()
	start := time.Now()
	var wg sync.WaitGroup
	for c := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var buf []byte // this client's payloads, one at a time
			for {
				i := next.Add(1) - 1
				if i >= int64(b.N) {
					return
				}
				// A fresh payload per op: the same ids again would change nothing.
				body := payloads[i%int64(len(payloads))]
				if i >= int64(len(payloads)) {
					buf = topogen.AppendIntakePayload(buf[:0], c, int(i), perPayload)
					body = buf
				}
				if !benchPost(b, s.hs.URL+"/stsAgent/intake", s.token["agent"], "application/json", body, 202) {
					return
				}
			}
		}()
	}
	wg.Wait()
	el := time.Since(start)
	b.StopTimer()
	b.ReportMetric(float64(b.N*2*perPayload)/el.Seconds(), "elements/s")
	st := s.pipe.Stats()
	b.ReportMetric(float64(st.Records.Load())/float64(max(st.Groups.Load(), 1)), "payloads/commit")
}

// benchPost posts body (of content type ctype) to url with key, and fails
// b on an error or an answer but want: false then.
func benchPost(b *testing.B, url, key, ctype string, body []byte, want int) bool {
	req, _ := http.NewRequest("POST", url, bytes.NewReader(body))
	req.Header.Set("X-API-Key", key)
	req.Header.Set("Content-Type", ctype)
	resp, err := agentClient.Do(req)
	if err != nil {
		b.Error(err)
		return false
	}
	// Read to the end, as an agent reads the answer: a body closed
	// unread makes the client drop the connection, and every request
	// then dialled a new one (both sides paying for it).
	_, err = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if err != nil {
		b.Error(err)
		return false
	}
	if resp.StatusCode != want {
		b.Errorf("status %d", resp.StatusCode)
		return false
	}
	return true
}

func BenchmarkFreshness(b *testing.B) {
	s := newServer(b, serverOpts{sync: true, live: true})
	defer s.stop()
	ws, _, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(s.hs.URL, "http")+"/api/subscribe",
		http.Header{"X-API-Key": {s.token["reader"]}})
	if err != nil {
		b.Fatal(err)
	}
	defer ws.Close()
	ws.WriteJSON(map[string]string{"type": "subscribe", "id": "probe", "query": `type = "probe"`})
	var first struct{ Type string }
	if err := ws.ReadJSON(&first); err != nil || first.Type != "result" {
		b.Fatalf("subscribe: %v %+v", err, first)
	}
	// Background load: 4 agents posting 200-element payloads all along.
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for c := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				s.post(request{key: "agent", body: topogen.IntakePayload(100+c, i, 100)})
			}
		}()
	}
	var toQuery, toLive []time.Duration
	b.ResetTimer()
	for i := range b.N {
		name := fmt.Sprintf("probe-%d", i)
		body := fmt.Sprintf(`{"topologies":[{"instance":{"type":"probe","url":"p"},"components":[{"externalId":%q,"type":{"name":"probe"},"data":{"name":%q}}]}]}`, name, name)
		t0 := time.Now()
		if r := s.post(request{key: "agent", body: []byte(body)}); r.status != 202 {
			b.Fatalf("%d %s", r.status, r.body)
		}
		if got := s.query(`name = "` + name + `"`); !strings.Contains(got, name) {
			b.Fatalf("not visible after the 202: %s", got)
		}
		toQuery = append(toQuery, time.Since(t0))
		for {
			var m struct {
				Type  string
				Added struct{ Components []struct{ Name string } }
			}
			if err := ws.ReadJSON(&m); err != nil {
				b.Fatal(err)
			}
			if m.Type == "diff" && slices.ContainsFunc(m.Added.Components, func(c struct{ Name string }) bool { return c.Name == name }) {
				break
			}
		}
		toLive = append(toLive, time.Since(t0))
	}
	b.StopTimer()
	close(stop)
	wg.Wait()
	b.ReportMetric(pct(toQuery, 50), "query-p50-ms")
	b.ReportMetric(pct(toQuery, 99), "query-p99-ms")
	b.ReportMetric(pct(toLive, 50), "live-p50-ms")
	b.ReportMetric(pct(toLive, 99), "live-p99-ms")
}

// pct returns the p-th percentile of ds in milliseconds.
func pct(ds []time.Duration, p int) float64 {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	i := min(len(s)-1, (len(s)*p+99)/100-1)
	return float64(s[max(i, 0)].Microseconds()) / 1000
}
