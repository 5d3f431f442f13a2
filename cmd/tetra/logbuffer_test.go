package main

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"
)

// lockedBuffer is a bytes.Buffer the flush timer's goroutine and the test
// may use at once.
type lockedBuffer struct {
	mu  sync.Mutex
	b   bytes.Buffer
	err error
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.err != nil {
		return 0, l.err
	}
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestLogBufferFlushesSoon: lines are written in order, shortly after they
// are made, with nothing else asking; Flush writes what waits at once.
func TestLogBufferFlushesSoon(t *testing.T) {
	var out lockedBuffer
	lb := newLogBuffer(&out, 20*time.Millisecond)
	for round := range 2 { // the second batch re-arms the flush
		want := ""
		for i := range 3 {
			line := fmt.Sprintf("round %d line %d\n", round, i)
			want += line
			lb.Write([]byte(line))
		}
		deadline := time.Now().Add(10 * time.Second)
		for !strings.HasSuffix(out.String(), want) {
			if time.Now().After(deadline) {
				t.Fatalf("round %d: after 10s the output is %q", round, out.String())
			}
			time.Sleep(time.Millisecond)
		}
	}
	lb = newLogBuffer(&out, time.Hour)
	lb.Write([]byte("last\n"))
	if err := lb.Flush(); err != nil || !strings.HasSuffix(out.String(), "line 2\nlast\n") {
		t.Fatalf("Flush: %v, output %q", err, out.String())
	}
}

// TestLogBufferFull: a burst is written as soon as the buffer is full,
// without waiting for the flush, and a write error reaches the writer.
func TestLogBufferFull(t *testing.T) {
	var out lockedBuffer
	lb := newLogBuffer(&out, time.Hour)
	line := strings.Repeat("x", 99) + "\n"
	for range logBufferMax / len(line) {
		lb.Write([]byte(line))
	}
	if out.String() != "" {
		t.Fatal("written before the buffer was full")
	}
	lb.Write([]byte(line))
	if len(out.String()) < logBufferMax {
		t.Fatalf("a full buffer was not written: %d bytes out", len(out.String()))
	}
	out.err = errors.New("disk full")
	lb.Write([]byte(line))
	if err := lb.Flush(); err == nil {
		t.Fatal("Flush hid the write error")
	}
}

// TestLogBufferConcurrent: lines of several writers arrive whole, each
// writer's in its order.
func TestLogBufferConcurrent(t *testing.T) {
	var out lockedBuffer
	lb := newLogBuffer(&out, time.Millisecond)
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 2000 {
				lb.Write(fmt.Appendf(nil, "w%d %d\n", w, i))
			}
		}()
	}
	wg.Wait()
	lb.Flush()
	next := make([]int, 4)
	lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
	for _, l := range lines {
		var w, i int
		if _, err := fmt.Sscanf(l, "w%d %d", &w, &i); err != nil || i != next[w] {
			t.Fatalf("line %q: %v, want writer %d's line %d", l, err, w, next[w])
		}
		next[w]++
	}
	if len(lines) != 8000 {
		t.Fatalf("%d lines, want 8000", len(lines))
	}
}
