package ingest

import (
	"errors"
	"fmt"
	"strconv"
)

// ErrTooLarge is the class of errors for payloads over the decoding limit;
// test with errors.Is. A receiver maps it to HTTP 413.
var ErrTooLarge = errors.New("ingest: payload too large")

// TooLargeError says what the decoding limit was.
type TooLargeError struct {
	Limit int64
}

func (e *TooLargeError) Error() string {
	return fmt.Sprintf("ingest: payload is larger than %s, the decoding limit", formatBytes(e.Limit))
}

func (e *TooLargeError) Is(target error) bool { return target == ErrTooLarge }

// Error is one thing wrong with a payload: where (a JSON path such as
// topologies[0].components[3].data.identifiers, empty for the document as a
// whole) and what. It is a user error: a receiver maps it to HTTP 400.
type Error struct {
	Path string
	Msg  string
}

func (e *Error) Error() string {
	if e.Path == "" {
		return "ingest: " + e.Msg
	}
	return "ingest: " + e.Path + ": " + e.Msg
}

// ErrorList is every error found in one payload, in document order. Decoding
// keeps going after an error so that one round trip shows the sender all of
// them, up to maxErrors; the rest are only counted.
type ErrorList struct {
	Errs    []*Error
	Dropped int // errors found beyond maxErrors
}

// maxErrors bounds the errors kept for one payload.
const maxErrors = 10

func (l *ErrorList) add(e *Error) {
	if len(l.Errs) < maxErrors {
		l.Errs = append(l.Errs, e)
		return
	}
	l.Dropped++
}

// Error prints the first error and how many more there are, as go/scanner's
// ErrorList does.
func (l *ErrorList) Error() string {
	switch n := len(l.Errs) + l.Dropped; n {
	case 0:
		return "ingest: no errors"
	case 1:
		return l.Errs[0].Error()
	default:
		return fmt.Sprintf("%s (and %d more errors)", l.Errs[0], n-1)
	}
}

// Unwrap exposes the kept errors to errors.Is and errors.As.
func (l *ErrorList) Unwrap() []error {
	out := make([]error, len(l.Errs))
	for i, e := range l.Errs {
		out[i] = e
	}
	return out
}

// Warnings are what a payload has that is accepted but odd: a key given
// twice in one object (the last value is used), invalid UTF-8 in a string
// (each bad byte becomes U+FFFD), an external id put twice for one source
// (the last one wins). They are reported to the sender, never silently
// rewritten; up to maxErrors are kept, the rest counted.
type Warnings struct {
	List    []*Error
	Dropped int
}

func (w *Warnings) add(e *Error) {
	if len(w.List) < maxErrors {
		w.List = append(w.List, e)
		return
	}
	w.Dropped++
}

// Len is the number of warnings, kept or counted.
func (w *Warnings) Len() int { return len(w.List) + w.Dropped }

// err returns the list as an error, or nil when it is empty.
func (l *ErrorList) err() error {
	if len(l.Errs) == 0 {
		return nil
	}
	return l
}

// path is a location in a JSON document, built as decoding descends and
// rendered only when an error needs it.
type path struct {
	parent *path
	key    string // object member; "" for a list element
	index  int
}

func (p *path) field(k string) *path { return &path{parent: p, key: k} }
func (p *path) at(i int) *path       { return &path{parent: p, index: i} }

// String renders the path. It keeps no reference to p, so that the paths
// a decode builds stay on the stack (they were most of its allocations).
func (p *path) String() string {
	var buf [64]byte
	return string(p.appendTo(buf[:0]))
}

func (p *path) appendTo(b []byte) []byte {
	if p == nil || p.parent == nil {
		return b
	}
	b = p.parent.appendTo(b)
	if p.key == "" {
		b = strconv.AppendInt(append(b, '['), int64(p.index), 10)
		return append(b, ']')
	}
	if len(b) > 0 {
		b = append(b, '.')
	}
	return append(b, p.key...)
}

func formatBytes(n int64) string {
	switch {
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%d MiB", n>>20)
	case n >= 1<<10 && n%(1<<10) == 0:
		return fmt.Sprintf("%d KiB", n>>10)
	}
	return fmt.Sprintf("%d bytes", n)
}
