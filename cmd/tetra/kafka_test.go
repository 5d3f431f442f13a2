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
