package exec

import (
	"errors"
	"fmt"
	"time"
)

// Error classes. Every error the engine returns is one of: a language error
// (lang.Errors finds it), a *LimitError, a *TimeoutError, ErrUnsupported, a
// store error, or an internal error (a bug). The API maps them to status
// codes in one place.

// DefaultMaxElements is how many components a query may load, as in
// StackState.
const DefaultMaxElements = 10_000

// DefaultTimeout bounds a query's running time.
const DefaultTimeout = 30 * time.Second

// LimitError says a query loaded more components than allowed, or a data
// statement would return more series, events, traces or points than
// allowed. The result is never cut silently.
type LimitError struct {
	Limit int
	// What is counted: "" for components; "series", "events", "traces" or
	// "points" for data statements.
	What string
}

func (e *LimitError) Error() string {
	if e.What != "" {
		return fmt.Sprintf("exec: the query returns more than %d %s (the element limit); "+
			"narrow it with a filter, FOR or a shorter range, or add LIMIT", e.Limit, e.What)
	}
	return fmt.Sprintf("exec: the query holds more than %d components (the element limit); "+
		"narrow it, for example with a type, label or layer filter, or raise the limit", e.Limit)
}

// TimeoutError says a query ran longer than allowed.
type TimeoutError struct {
	Timeout time.Duration
}

func (e *TimeoutError) Error() string {
	return fmt.Sprintf("exec: the query ran longer than %s (the query timeout)", e.Timeout)
}

// ErrUnsupported is returned for statements the engine cannot run yet.
var ErrUnsupported = errors.New("exec: unsupported statement")

// InternalError is a bug: a state the engine should never reach.
type InternalError struct{ Msg string }

func (e *InternalError) Error() string { return "exec: internal error: " + e.Msg }

func internalf(format string, args ...any) error {
	return &InternalError{Msg: fmt.Sprintf(format, args...)}
}
