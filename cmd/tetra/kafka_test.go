package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tetrahq/tetra/graphstore/memstore"
	"github.com/tetrahq/tetra/graphstore/pebblestore"
	"github.com/tetrahq/tetra/internal/kafkatest"
)

// kafkaServer is a tetra serve --kafka process.
type kafkaServer struct {
	cmd  *exec.Cmd
	base string
	logs *bytes.Buffer
}

// startKafkaServer runs the test binary as tetra serve --kafka (see
// TestMain).
func startKafkaServer(t *testing.T, dir string, brokers []string) *kafkaServer {
	t.Helper()
	cmd := exec.Command(os.Args[0], "serve", "--data", dir, "--listen", "127.0.0.1:0", "--kafka", strings.Join(brokers, ","), "--log-format", "json")
	cmd.Env = append(os.Environ(), childEnv+"=1")
	stdout, _ := cmd.StdoutPipe()
	logs := &bytes.Buffer{}
	cmd.Stderr = logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	base, _ := readBaseURL(t, stdout, false)
	return &kafkaServer{cmd: cmd, base: base, logs: logs}
}

// ready waits for /readyz to answer 200 and returns its last answer.
func (s *kafkaServer) waitReady(t *testing.T, want int) string {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get(s.base + "/readyz")
		if err == nil {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode == want {
				return string(b)
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("/readyz never answered %d: %v", want, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// post posts one payload; it returns the status, 0 when the server went
// away.
func (s *kafkaServer) post(body string) (int, http.Header, string) {
	resp, err := http.Post(s.base+"/stsAgent/intake", "application/json", strings.NewReader(body))
	if err != nil {
		return 0, nil, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, string(b)
}

// count runs a query and returns how many components it found.
func (s *kafkaServer) count(t *testing.T, q string) int {
	t.Helper()
	b, _ := json.Marshal(map[string]string{"query": q})
	resp, err := http.Post(s.base+"/api/query", "application/json", bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var res struct {
		Topology struct{ Components []json.RawMessage }
	}
	if err := json.NewDecoder(resp.Body).Decode(&res); err != nil {
		t.Fatal(err)
	}
	return len(res.Topology.Components)
}

// TestServeKafkaKill9: tetra serve --kafka is killed with SIGKILL while
// agents stream batches at it, and started again, round after round; an
// agent resends what was not acknowledged. At the end every acknowledged
// batch is in the graph exactly once: the graph is exactly the reference,
// and no counter's history goes back. TETRA_KAFKA_KILL_ROUNDS sets the
// rounds (default 3).
func TestServeKafkaKill9(t *testing.T) {
	if testing.Short() {
		t.Skip("runs tetra serve processes")
	}
	rounds := 3
	if v := os.Getenv("TETRA_KAFKA_KILL_ROUNDS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			t.Fatalf("TETRA_KAFKA_KILL_ROUNDS=%q: %v", v, err)
		}
		rounds = n
	}
	c := kafkatest.NewCluster(t)
	dir := t.TempDir()
	sources := []string{"k1", "k2", "k3"}
	next := map[string]int{} // the next batch of each source (all before it acknowledged)
	r := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 1))
	for round := range rounds {
		s := startKafkaServer(t, dir, c.Brokers())
		s.waitReady(t, 200)
		kill := time.After(time.Duration(50+r.IntN(250)) * time.Millisecond)
	stream:
		for {
			select {
			case <-kill:
				break stream
			default:
			}
			src := sources[r.IntN(len(sources))]
			code, _, body := s.post(kafkatest.Payload(src, next[src]))
			switch code {
			case http.StatusAccepted:
				next[src]++
			case 0:
				break stream
			default:
				t.Fatalf("round %d: POST: %d %s", round, code, body)
			}
		}
		if err := s.cmd.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		s.cmd.Wait()
		t.Logf("round %d: killed with %v acknowledged", round, next)
	}
	// A last start: each agent resends the batch it had in flight (it
	// may or may not be in the log: it was not acknowledged); the node
	// catches up with the log, then stops cleanly.
	s := startKafkaServer(t, dir, c.Brokers())
	s.waitReady(t, 200)
	total := 0
	for _, src := range sources {
		if code, _, body := s.post(kafkatest.Payload(src, next[src])); code != http.StatusAccepted {
			t.Fatalf("POST: %d %s", code, body)
		}
		next[src]++
		total += next[src]
	}
	deadline := time.Now().Add(60 * time.Second)
	for s.count(t, `type = "item"`) < total && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	s.cmd.Process.Signal(syscall.SIGKILL) // the store recovers from its log
	s.cmd.Wait()
	st, err := pebblestore.Open(dir, pebblestore.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	ref := kafkatest.Reference(t, memstore.New(memstore.Options{}), next)
	if got := kafkatest.Dump(t, st); got != ref {
		t.Fatalf("the graph after %d kills:\n%s\nwant:\n%s", rounds, got, ref)
	}
	kafkatest.CheckHistory(t, st, next)
}

// TestServeKafkaBrokerAway: with its brokers away, tetra serve --kafka is
// not ready and says why, and the receiver answers 503 with Retry-After
// (accepting nothing it cannot make durable); when they return, it is
// ready and takes intake again.
func TestServeKafkaBrokerAway(t *testing.T) {
	if testing.Short() {
		t.Skip("runs tetra serve processes")
	}
	c := kafkatest.NewCluster(t)
	s := startKafkaServer(t, t.TempDir(), c.Brokers())
	s.waitReady(t, 200)
	if code, _, body := s.post(kafkatest.Payload("a", 0)); code != http.StatusAccepted {
		t.Fatalf("POST: %d %s", code, body)
	}
	c.Stop()
	rd := s.waitReady(t, http.StatusServiceUnavailable)
	if !strings.Contains(rd, `"status":"unavailable"`) || !strings.Contains(rd, "kafka: brokers "+c.Brokers()[0]) {
		t.Errorf("/readyz with the brokers away: %s", rd)
	}
	code, h, body := s.post(kafkatest.Payload("a", 1))
	if code != http.StatusServiceUnavailable || h.Get("Retry-After") == "" || !strings.Contains(body, "kafka") {
		t.Errorf("POST with the brokers away: %d Retry-After=%q %s", code, h.Get("Retry-After"), body)
	}
	c.Start()
	s.waitReady(t, 200)
	if code, _, body := s.post(kafkatest.Payload("a", 1)); code != http.StatusAccepted {
		t.Fatalf("POST after the brokers returned: %d %s", code, body)
	}
	deadline := time.Now().Add(30 * time.Second)
	for s.count(t, `type = "item"`) < 2 {
		if time.Now().After(deadline) {
			t.Fatal(fmt.Sprintf("the items never arrived\n%s", s.logs))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestServeKafkaData: metrics and events of an intake payload and spans
// of an OTLP/HTTP export sent to one tetra serve --kafka node are
// queryable with METRICS, EVENTS and TRACES on another node, which
// consumed them from their topics into its own data stores (each node's
// own consumer group on the embedded stores), and on the node that
// received them; the lag of each kind is a self-metric.
func TestServeKafkaData(t *testing.T) {
	if testing.Short() {
		t.Skip("runs tetra serve processes")
	}
	c := kafkatest.NewCluster(t)
	a := startKafkaServer(t, t.TempDir(), c.Brokers())
	b := startKafkaServer(t, t.TempDir(), c.Brokers())
	a.waitReady(t, 200)
	b.waitReady(t, 200)
	now := time.Now().Add(-time.Minute).Truncate(time.Second)
	code, _, body := a.post(fmt.Sprintf(`{"internalHostname":"h1","metrics":[["ledger.requests",%d,42.5,{"hostname":"h1"}]],
		"events":{"deploy":[{"msg_title":"ledger deployed","timestamp":%[1]d,"host":"h1"}]}}`, now.Unix()))
	if code != http.StatusAccepted || !strings.Contains(body, `"samples":1`) || !strings.Contains(body, `"events":1`) {
		t.Fatalf("POST intake: %d %s", code, body)
	}
	spans := fmt.Sprintf(`{"resourceSpans":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"ledger"}}]},
		"scopeSpans":[{"spans":[{"traceId":"5b8efff798038103d269b633813fc60c","spanId":"eee19b7ec3c1b174","name":"POST /entries",
		"kind":2,"startTimeUnixNano":"%d","endTimeUnixNano":"%d"}]}]}]}`, now.UnixNano(), now.Add(30*time.Millisecond).UnixNano())
	resp, err := http.Post(a.base+"/v1/traces", "application/json", strings.NewReader(spans))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("POST /v1/traces: %d", resp.StatusCode)
	}
	for _, s := range []*kafkaServer{b, a} {
		s.waitResult(t, `METRICS WHERE name = "ledger.requests" FROM "-1h"`, fmt.Sprintf(`"points":[[%d,42.5]]`, now.UnixMilli()))
		s.waitResult(t, `EVENTS FROM "-1h"`, `"name":"ledger deployed"`)
		s.waitResult(t, `TRACES WHERE service = "ledger" FROM "-1h"`, `"name":"POST /entries"`)
	}
	// Each kind's lag, by the node's own data consumer group.
	resp, err = http.Get(b.base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	m, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, k := range []string{"metrics", "events", "traces", "topology"} {
		if !strings.Contains(string(m), `tetra_kafka_lag{kind="`+k+`"}`) {
			t.Errorf("no tetra_kafka_lag of %s in /metrics", k)
		}
	}
}

// waitResult waits until a query's JSON answer holds want.
func (s *kafkaServer) waitResult(t *testing.T, q, want string) {
	t.Helper()
	b, _ := json.Marshal(map[string]string{"query": q})
	deadline := time.Now().Add(30 * time.Second)
	var got string
	for time.Now().Before(deadline) {
		resp, err := http.Post(s.base+"/api/query", "application/json", bytes.NewReader(b))
		if err != nil {
			t.Fatal(err)
		}
		out, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if got = string(out); strings.Contains(got, want) {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("%s on %s: %s\nwant %s in it\n%s", q, s.base, got, want, s.logs)
}

// TestDataGroup: with stores every node shares (Elasticsearch) the data
// consumer group is the cluster's; with a node's own stores it is the
// node's, named after the id its data directory keeps across restarts.
func TestDataGroup(t *testing.T) {
	if g, err := dataGroup(&dataStores{shared: true}, ""); err != nil || g != "tetra.telemetry" {
		t.Errorf("shared stores: %q %v", g, err)
	}
	dir := t.TempDir()
	g1, err := dataGroup(&dataStores{dir: dir}, "x.")
	if err != nil || !strings.HasPrefix(g1, "x.telemetry.") || len(g1) != len("x.telemetry.")+16 {
		t.Fatalf("a node's own stores: %q %v", g1, err)
	}
	if g2, err := dataGroup(&dataStores{dir: dir}, "x."); err != nil || g2 != g1 {
		t.Errorf("the same directory again: %q %v, want %q", g2, err, g1)
	}
	if g3, err := dataGroup(&dataStores{dir: t.TempDir()}, "x."); err != nil || g3 == g1 {
		t.Errorf("another directory: %q %v", g3, err)
	}
}
