package pebblestore_test

import (
	"bufio"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tetrahq/tetra/graphstore"
	"github.com/tetrahq/tetra/graphstore/pebblestore"
)

const (
	crashChildEnv  = "TETRA_CRASH_CHILD_DIR"
	crashBatchSize = 300 // components per batch, plus as many relations
)

// TestCrashChild is the writer the crash test kills. It does nothing unless
// started by TestCrashRecovery.
func TestCrashChild(t *testing.T) {
	dir := os.Getenv(crashChildEnv)
	if dir == "" {
		t.Skip("only runs as the child of TestCrashRecovery")
	}
	s, err := pebblestore.Open(dir, pebblestore.Options{})
	if err != nil {
		fmt.Println("open:", err)
		os.Exit(3)
	}
	start := batchesIn(t, s)
	for i := start + 1; ; i++ {
		if _, err := s.Apply(context.Background(), crashBatch(i)); err != nil {
			fmt.Println("apply:", err)
			os.Exit(3)
		}
		fmt.Printf("committed %d\n", i) // only after Apply returned: durable
	}
}

// crashBatch writes batch i: components b<i>-<j> and a chain of relations.
func crashBatch(i int) *graphstore.Batch {
	b := &graphstore.Batch{}
	for j := range crashBatchSize {
		b.PutComponent("crash", fmt.Sprintf("b%d-%d", i, j), graphstore.ComponentData{
			Name: fmt.Sprintf("c-%d-%d", i, j), Type: "batch-" + strconv.Itoa(i), Labels: []string{"crash"},
		})
		if j > 0 {
			b.PutRelation("crash", fmt.Sprintf("r%d-%d", i, j), graphstore.RelationData{
				Type: "next", SourceRef: fmt.Sprintf("b%d-%d", i, j-1), TargetRef: fmt.Sprintf("b%d-%d", i, j),
			})
		}
	}
	return b
}

// batchesIn returns how many whole batches a store holds, failing the test
// if any batch is partly there.
func batchesIn(t *testing.T, s graphstore.Store) int {
	sn, err := s.Snapshot(time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	defer sn.Close()
	n := 0
	for i := 1; ; i++ {
		comps, err := sn.Postings(graphstore.IdxType, "batch-"+strconv.Itoa(i))
		if err != nil {
			t.Fatal(err)
		}
		if len(comps) == 0 {
			return n
		}
		if len(comps) != crashBatchSize {
			t.Fatalf("batch %d is half-written: %d of %d components", i, len(comps), crashBatchSize)
		}
		for _, id := range comps[1:] {
			adj, err := sn.Adjacent(id, graphstore.IdxIn, nil)
			if err != nil || len(adj) != 1 {
				t.Fatalf("batch %d: component %d has incoming relations %v (%v), want 1", i, id, adj, err)
			}
		}
		n = i
	}
}

// TestCrashRecovery kills a writer with SIGKILL mid-stream, several times,
// and checks that every batch it reported committed is whole after reopening
// and that no batch is half there.
func TestCrashRecovery(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns writer processes")
	}
	dir := t.TempDir()
	r := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 7))
	reported := 0
	for round := range 3 {
		last := runAndKill(t, dir, time.Duration(50+r.IntN(250))*time.Millisecond)
		if last > reported {
			reported = last
		}
		s, err := pebblestore.Open(dir, pebblestore.Options{})
		if err != nil {
			t.Fatalf("round %d: reopen after kill: %v", round, err)
		}
		got := batchesIn(t, s)
		s.Close()
		if got < reported {
			t.Fatalf("round %d: the writer reported batch %d committed, the store has %d", round, reported, got)
		}
		t.Logf("round %d: killed after %d reported commits; store holds %d whole batches", round, last, got)
		reported = got
	}
}

// runAndKill starts the child writer, lets it run for d after its first
// commit, kills it with SIGKILL and returns the last batch it reported.
func runAndKill(t *testing.T, dir string, d time.Duration) int {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestCrashChild$", "-test.count=1")
	cmd.Env = append(os.Environ(), crashChildEnv+"="+dir)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	lines := make(chan string)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	last, timer := 0, (<-chan time.Time)(nil)
	deadline := time.After(60 * time.Second)
	for {
		select {
		case line, ok := <-lines:
			if !ok {
				cmd.Wait()
				t.Fatalf("writer exited before it was killed (last line %d)", last)
			}
			n, perr := strconv.Atoi(strings.TrimPrefix(line, "committed "))
			if perr != nil {
				t.Fatalf("writer: %s", line)
			}
			last = n
			if timer == nil {
				timer = time.After(d)
			}
		case <-timer:
			cmd.Process.Kill() // SIGKILL: no deferred code, no flush
			for line := range lines {
				if n, err := strconv.Atoi(strings.TrimPrefix(line, "committed ")); err == nil {
					last = n
				}
			}
			cmd.Wait()
			return last
		case <-deadline:
			cmd.Process.Kill()
			t.Fatal("writer made no progress within a minute")
		}
	}
}
