package main

import (
	"io"
	"sync"
	"time"
)

// logBuffer gathers the server's log lines (and its other messages to
// stderr, so that they keep their order) and writes them in batches: a
// line per request, written at once, was a write(2) on each request's
// path, before net/http sent the answer. A line is written at most
// logFlushDelay after it is made, at once when logBufferMax bytes wait,
// and when the server stops (Flush). Safe for concurrent use.
type logBuffer struct {
	w     io.Writer
	delay time.Duration
	mu    sync.Mutex
	buf   []byte
	timer *time.Timer
}

const (
	logFlushDelay = 10 * time.Millisecond
	logBufferMax  = 32 << 10
)

func newLogBuffer(w io.Writer, delay time.Duration) *logBuffer {
	return &logBuffer{w: w, delay: delay}
}

// Write keeps p for the next flush and arms the flush when p is the
// first of a batch (nothing runs while no line waits). A write error of
// a flush is returned to the writer that made it.
func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	first := len(b.buf) == 0
	b.buf = append(b.buf, p...)
	if len(b.buf) >= logBufferMax {
		return len(p), b.flushLocked()
	}
	if first {
		if b.timer == nil {
			b.timer = time.AfterFunc(b.delay, func() { b.Flush() })
		} else {
			b.timer.Reset(b.delay)
		}
	}
	return len(p), nil
}

// Flush writes what waits.
func (b *logBuffer) Flush() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.flushLocked()
}

func (b *logBuffer) flushLocked() error {
	if len(b.buf) == 0 {
		return nil
	}
	_, err := b.w.Write(b.buf)
	if cap(b.buf) > 4*logBufferMax { // a burst's buffer goes
		b.buf = nil
	} else {
		b.buf = b.buf[:0]
	}
	return err
}
